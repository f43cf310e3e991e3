// Card entry through Stripe Elements, for every form with data-stripe-key: the card goes from the browser to
// Stripe (never to this server), and the form posts the PaymentMethod id Stripe returns as its `token`.
// Loaded only when Stripe is the card gateway, after https://js.stripe.com/v3/.
document.querySelectorAll("form[data-stripe-key]").forEach((form) => {
  const stripe = Stripe(form.dataset.stripeKey);
  const card = stripe.elements({ locale: form.dataset.locale || "auto" }).create("card");
  card.mount(form.querySelector(".card-element"));
  const token = form.querySelector("input[name=token]");
  const error = form.querySelector("#token-error");
  const say = (message) => { error.textContent = message; error.hidden = !message; };
  card.on("change", (event) => say(event.error ? event.error.message : ""));
  form.addEventListener("submit", async (event) => {
    if (event.submitter && event.submitter.getAttribute("formmethod") === "get") return;  // no card needed to look
    event.preventDefault();
    const buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach((b) => { b.disabled = true; });
    const result = await stripe.createPaymentMethod({ type: "card", card });
    if (result.error) {
      say(result.error.message);
      buttons.forEach((b) => { b.disabled = false; });
      return;
    }
    token.value = result.paymentMethod.id;
    form.submit();
  });
});
