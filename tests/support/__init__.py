"""What many tests share: fake Twilio, the Prism launcher, seeding, webhook signing,
driving the CLI, a scripted gateway, and the reply corpus."""
