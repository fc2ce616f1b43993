"""The clinic side's actions and views: what staff see and do, for the JSON API and the
dashboard alike. Plain functions on a database session, scoped to one clinic; they never
commit (the caller's request is the transaction) and audit every change they make."""
