"""What many tests share: fake Twilio, the Prism launcher, seeding, webhook signing,
driving the CLI, a scripted gateway, the reply corpus, and the rows the staff listings read."""
