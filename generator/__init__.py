"""numspec: lint, generate, serve, contract-test and document the phone-number contract."""
