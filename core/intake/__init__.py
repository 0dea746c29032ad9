"""Intake: a report from any channel becomes a case, or joins one.

Checks the report (text, point, channel, class), locates it, dedupes it against recent cases,
plans the new case (routing, number, clocks) and writes batches of reports in one transaction
(submit.py, dedupe.py, plan.py, write.py), within the rate limits (quota.py). Reads the
deployment through `gridcase.core.deployment.Deployment`.
"""
