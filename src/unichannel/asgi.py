"""The ASGI application uvicorn serves (`unichannel serve`), built from the environment's settings."""

from unichannel.app import create_app

app = create_app()
