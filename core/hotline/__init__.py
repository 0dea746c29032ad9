"""The 12345 hotline bridge and the notices to citizens: the platform's work orders filed as
cases (or kept waiting for an operator when no class maps them), the answers each order gets as
its case moves (签收, 退单, 延期, progress, 办结) queued in the outbox in the transition's own
transaction, the platform's answers to extensions and its 回访 results, and the SMS a reporter
gets on each change of their case's public state."""
