"""Every extension point of gridcase, in one file.

Hook names form families with predictable shapes:

* ``register_*`` returns a list; the results of all plugins are concatenated;
* ``*_case`` decides or acts on one case; the deciding ones are ``firstresult``: the first
  plugin that returns something other than None wins, and city plugins run before the
  built-ins, so a city overrides built-in behaviour by returning a value;
* ``before_*`` may veto by returning a reason (a string); every plugin is asked;
* ``after_*`` observes; its return value is ignored.

Each hook's exact signature is documented in docs/plugins.md, and tests/test_docs.py fails when
the two disagree. Built-in behaviour is registered through these same hooks
(gridcase.plugins.builtin), so anything a built-in does a city plugin can replace.

Plugins implement hooks with ``from gridcase.core.hookspecs import hookimpl``.
"""

from typing import Any

import pluggy

PROJECT = "gridcase"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -------------------------------------------------------------------------------------------
# Start-up: what a deployment is made of
# -------------------------------------------------------------------------------------------


@hookspec
def register_profile_schemas() -> list[dict[str, Any]]:
    """Contribute JSON Schema fragments for plugin configuration blocks.

    Return a list of ``{"block": name, "schema": {...}}``. The profile then accepts
    ``config: {name: ...}`` validated by that schema (draft 2020-12); any other ``config``
    block is an error. Called each time a profile is validated.
    """


@hookspec
def register_guards() -> list[dict[str, Any]]:
    """Contribute named transition guards.

    Return a list of ``{"name": str, "check": callable}``. A workflow transition lists guard
    names under ``guards:``; validation fails on a name no plugin registered.
    ``check(context)`` receives a mapping with at least ``case`` (a mapping of the case's
    facts), ``transition``, ``actor``, ``payload``, ``profile`` (the merged profile), ``now``
    and ``clocks`` (a function returning the case's running clocks: ``stage``, ``deadline``,
    ``status``; it reads them only when called), ``subtasks`` (likewise, the case's sub-tasks
    with ``number``, ``state`` and ``state_kind``) and ``events`` (likewise, the transitions the
    case has been through, oldest first: ``transition``, ``at``, ``unit``, ``actor_id``), and
    returns None to allow or a reason string to refuse.
    """


@hookspec
def register_channels(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Contribute report channels (渠道) that the plugin brings, for example a gateway.

    Return channel definitions in the profile's ``channels`` form. A profile's own channel
    with the same code wins. ``profile`` is the merged profile (plain data).
    """


@hookspec
def register_indicators(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Contribute assessment indicators, in the profile's ``assessment.indicators`` form.

    A profile's own indicator with the same code wins. The result is validated with the
    profile, so a contributed formula may use the profile's indicators and vice versa.
    """


@hookspec
def register_senders() -> list[Any]:
    """Contribute notification senders.

    Return objects with a ``channel`` attribute (``"log"``, ``"webhook"``, ``"sms"`` …) and a
    ``send(message) -> None`` method that raises on failure. The outbox delivers each message
    through the sender registered for its channel; a later plugin's sender replaces an earlier
    one's for the same channel.
    """


@hookspec
def register_routes() -> list[Any]:
    """Contribute web routes: a list of Starlette ``Route`` or ``Mount`` objects.

    They are mounted in the app that ``create_app`` builds, after the built-in routes.
    """


@hookspec
def register_admin_pages() -> list[dict[str, Any]]:
    """Contribute admin UI pages.

    Return ``{"path": "/admin/...", "title": {"zh": ..., "en": ...}, "endpoint": callable,
    "roles": [role codes]}``. The page is routed and shown in the navigation to those roles.
    """


@hookspec
def register_commands() -> list[Any]:
    """Contribute CLI commands: a list of ``typer.Typer`` apps.

    Each is mounted under its ``info.name`` (``gridcase <name> …``) next to the built-in ones.
    """


# -------------------------------------------------------------------------------------------
# Intake: classify, locate, route
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def classify_case(report: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any] | None:
    """Choose a category for a report that came without one (一门式).

    ``report`` has at least ``description`` (free text) and may have ``address`` and
    ``channel``. Return ``{"class": minor class code, "kind": "component" or "event",
    "confidence": 0..1, "explanation": str}`` or None to leave the decision to the next plugin.
    firstresult.
    """


@hookspec(firstresult=True)
def locate_case(report: dict[str, Any], profile: dict[str, Any], grids: Any) -> dict[str, Any] | None:
    """Place a report: which grid (and grid ancestors) its WGS-84 point ``report["point"]`` is in.

    ``grids`` is the deployment's grid index (``gridcase.core.places.gridindex.GridIndex``, with
    ``locate(lon, lat)`` and ``chain(code)``). Return ``{"grid": code, "grids": [codes from the
    unit grid up], "unit": territorial unit or None, "area_class": …}``, or None when the point
    is outside every grid. firstresult.
    """


@hookspec(firstresult=True)
def route_case(case: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any] | None:
    """Decide the responsible units of a case.

    ``case`` has ``class`` and ``kind`` and may have ``grid``, ``grids``, ``grid_units`` (each of
    ``grids`` → its territorial unit, from the deployment's grid table), ``component`` (a mapping with
    ``owner_unit``/``maintainer_unit``/``supervisor_unit``). Return ``{"units": [{"unit": code,
    "share": fraction}], "rule": name, "explanation": str}`` with shares adding up to 1, or
    None to let the next plugin decide. firstresult.
    """


# -------------------------------------------------------------------------------------------
# Transitions
# -------------------------------------------------------------------------------------------


@hookspec
def before_transition(
    case: dict[str, Any], transition: dict[str, Any], actor: dict[str, Any], payload: dict[str, Any]
) -> str | None:
    """Veto a transition before it happens.

    Return a reason string to refuse (the transition fails with that reason, nothing is
    written) or None to allow. Every plugin is asked; any reason vetoes. ``actor`` has
    ``id``, ``roles`` and ``unit``.
    """


@hookspec
def after_transition(case: dict[str, Any], event: dict[str, Any]) -> None:
    """Observe a transition that has happened.

    ``event`` is the appended CaseEvent as a mapping (``transition``, ``from_state``,
    ``to_state``, ``actor``, ``at``, ``payload``, ``reason``). Called after the change is
    recorded; an exception here does not undo it.
    """


# -------------------------------------------------------------------------------------------
# Time limits
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def adjust_deadline(case: dict[str, Any], clock: dict[str, Any], deadline: Any) -> Any | None:
    """Change a deadline the engine computed when a clock starts.

    ``clock`` has ``stage``, ``started_at``, ``limit`` and ``unit``; ``deadline`` is an aware
    datetime. Return a new aware datetime, or None to keep it. firstresult.
    """


@hookspec
def after_time_limit_event(case: dict[str, Any], clock: dict[str, Any], event: dict[str, Any]) -> None:
    """React to a time-limit event: a light turning yellow or red, or an escalation rung firing.

    ``case`` and ``clock`` carry their ``id``; ``event`` has ``kind`` (``"yellow"``, ``"red"`` or
    ``"escalation"``), ``rung`` (for escalations) and ``at``. Each event is claimed exactly once,
    whatever the number of sweepers; the hook runs after that claim is committed (the claim's
    notices are already in the outbox), so a process dying in between skips the hook only.
    """


# -------------------------------------------------------------------------------------------
# Assessment
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def split_case_consequences(case: dict[str, Any], units: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Split one case's consequences (deductions, counts) among its responsible units.

    ``units`` is the routing result's list of ``{"unit", "share"}``. Return the list to use
    instead, with shares adding up to 1, or None for the routing shares. firstresult.
    """


@hookspec
def adjust_scores(results: list[dict[str, Any]], period: dict[str, Any]) -> list[dict[str, Any]]:
    """Contribute score adjustments after composites are computed.

    ``results`` has one ``{"object", "composite", "score"}`` per assessed object. Return
    ``{"object", "points", "reason", "cases": [ids]}`` entries; they are added to the scores and
    appear in the explanations.
    """
