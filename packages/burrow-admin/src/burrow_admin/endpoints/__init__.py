"""The admin's HTTP endpoints: one module per page or action."""
