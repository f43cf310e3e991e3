"""The web pages people use: the storefront, the 11.11 big screen (and, as they land, the POS and the merchant
console). Server-rendered Jinja2 templates with htmx, kept live over Server-Sent Events; no front-end build step."""
