"""Cases: the workflow they move through, and what each case keeps.

Owns the declarative state machine (workflow.py), transitions with their checks and effects
(transitions.py), the append-only audit log (events.py), joint orders' sub-tasks (subtasks.py),
patrol checklists, evidence files, idempotency keys, and who may see which case (scope.py).
Reads the deployment through `gridcase.core.deployment.Deployment`; below it: places, people,
profile, db.
"""
