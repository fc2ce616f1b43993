"""The web app: Twilio's webhooks now, the staff dashboard and API next to them later."""
