"""Every extension point of gridcase, in one file.

Every hook that runs for a deployment receives ``ctx``, a `HookContext`: the profile through
typed accessors, the plugin's own configuration block, the time, the connection of the
transaction it runs in, read services for cases, units, grids and people, and ``notify``. Case
hooks receive a `CaseView`, not an id. The start-up hooks (``register_*``) take no context:
they run before a deployment exists (building the CLI, validating a profile); what they
register (a guard, a fact's query) is called later with what it needs. All the types are in
`gridcase.core.context`.

Hook names form families with predictable shapes:

* ``register_*`` returns a list; the results of all plugins are concatenated;
* ``*_case`` decides or acts on one case; the deciding ones are ``firstresult``: the first
  plugin that returns something other than None wins, and city plugins run before the
  built-ins, so a city overrides built-in behaviour by returning a value;
* ``before_*`` may veto by returning a reason (a string); every plugin is asked;
* ``after_*`` observes after the change is committed; its return value is ignored;
* ``during_*`` acts inside the change's transaction: its writes commit or roll back with it.

Each hook's exact signature is documented in docs/plugins.md, and tests/test_docs.py fails when
the two disagree. Built-in behaviour is registered through these same hooks
(gridcase.plugins.builtin), so anything a built-in does a city plugin can replace.

Plugins implement hooks with ``from gridcase.core.hookspecs import hookimpl``.
"""

from datetime import datetime
from typing import Any

import pluggy

from gridcase.core.context import (
    ActorView,
    AssessmentFact,
    CaseView,
    Classification,
    HookContext,
    IncomingReport,
    Location,
    Period,
    Routing,
    RoutingRequest,
    ScoreAdjustment,
    Share,
    StartingClock,
    TimeLimitEvent,
    TransitionView,
    UnitMove,
)

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
    facts), ``transition``, ``actor``, ``payload``, ``profile`` (the merged profile), ``city``
    (the typed profile), ``now`` and ``clocks`` (a function returning the case's running
    clocks: ``stage``, ``deadline``, ``status``; it reads them only when called), ``subtasks``
    (likewise, the case's sub-tasks with ``number``, ``state`` and ``state_kind``) and
    ``events`` (likewise, the transitions the case has been through, oldest first:
    ``transition``, ``at``, ``unit``, ``actor_id``), and returns None to allow or a reason
    string to refuse.
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
# Intake: classify, locate, route, and the case created
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def classify_case(ctx: HookContext, report: IncomingReport) -> Classification | None:
    """Choose a category for a report that came without one (一门式).

    Return a `Classification` (``code``: a minor class code, ``kind``: ``"component"`` or
    ``"event"``, ``confidence``: 0..1, ``explanation``) or None to leave the decision to the next
    plugin. firstresult.
    """


@hookspec(firstresult=True)
def locate_case(ctx: HookContext, report: IncomingReport, grids: Any) -> Location | None:
    """Place a report: which grid (and grid ancestors) its WGS-84 point is in.

    ``grids`` is the deployment's grid index (``gridcase.core.places.gridindex.GridIndex``, with
    ``locate(lon, lat)`` and ``chain(code)``). Return a `Location` (``grid``, ``grids`` from the
    unit grid up, ``unit``: its territorial unit or None, ``area_class``), or None when the point
    is outside every grid. firstresult.
    """


@hookspec(firstresult=True)
def route_case(ctx: HookContext, request: RoutingRequest) -> Routing | None:
    """Decide the responsible units of a case, in the transaction that files or reclassifies it.

    ``request`` has the class, kind, grid chain with each grid's territorial unit, and the
    component when there is one. Return a `Routing` (``units``: ``[{"unit", "share"}]`` with shares
    adding up to 1, ``rule``, ``explanation``), or None to let the next plugin decide.
    firstresult.
    """


@hookspec
def after_case_created(ctx: HookContext, case: CaseView) -> None:
    """Observe a new case, after the transaction that filed it has committed.

    Not called for a report that joined an existing case as a duplicate. ``ctx.connection`` is
    None: reads use a connection of their own, and ``ctx.notify`` writes its notice in its own
    transaction. An exception here is logged and does not undo the filing.
    """


# -------------------------------------------------------------------------------------------
# Transitions
# -------------------------------------------------------------------------------------------


@hookspec
def before_transition(
    ctx: HookContext, case: CaseView, transition: TransitionView, actor: ActorView
) -> str | None:
    """Veto a transition before it happens.

    Return a reason string to refuse (the transition fails with that reason, nothing is
    written) or None to allow. Every plugin is asked; any reason vetoes. ``transition`` has the
    payload and reason the actor sent; its ``seq`` is None.
    """


@hookspec
def during_transition(ctx: HookContext, case: CaseView, transition: TransitionView) -> None:
    """Act inside a transition's transaction, after its event and state are written.

    ``case`` is the case as the transition leaves it. ``ctx.connection`` is the transaction:
    what the hook writes with it (and every ``ctx.notify``) commits with the transition or rolls
    back with it. Raising refuses the transition: a `GridcaseError` with its message, anything
    else as an internal error; nothing of it is written.
    """


@hookspec
def after_transition(ctx: HookContext, case: CaseView, transition: TransitionView) -> None:
    """Observe a transition that has happened, after its transaction committed.

    An exception here is logged and does not undo the transition.
    """


# -------------------------------------------------------------------------------------------
# Time limits
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def adjust_deadline(ctx: HookContext, clock: StartingClock, deadline: datetime) -> datetime | None:
    """Change a deadline the engine computed when a clock starts.

    ``clock`` is the starting clock with its case's class, kind, urgency and area class and the
    limit the profile gave it; ``deadline`` is the computed aware datetime. It runs while the
    case is being written, so ``ctx.connection`` is None and a new case is not readable yet.
    Return a new aware datetime, or None to keep it. firstresult.
    """


@hookspec
def after_time_limit_event(ctx: HookContext, case: CaseView, event: TimeLimitEvent) -> None:
    """React to a time-limit event: a light turning yellow or red, or an escalation rung firing.

    ``event`` has ``kind`` (``"yellow"``, ``"red"`` or ``"escalation"``), ``rung`` (for
    escalations), ``at`` and the clock's ``stage``. Each event is claimed exactly once, whatever
    the number of sweepers; the hook runs after that claim is committed (the claim's notices are
    already in the outbox), so a process dying in between skips the hook only.
    """


# -------------------------------------------------------------------------------------------
# Assessment
# -------------------------------------------------------------------------------------------


@hookspec
def register_assessment_facts() -> list[AssessmentFact]:
    """Contribute assessment facts computed in SQL.

    Return `AssessmentFact` objects. An indicator counts one with ``count: <code>`` as it counts
    a profile fact; the profile is validated with them, so an unknown code is still an error.
    ``where`` and ``weighted`` apply to profile facts only, and a deduction cannot charge by a
    plugin fact (it has no cases to charge). The fact's ``query(ctx, kind)`` runs with the
    deployment's context when a period is assessed.
    """


@hookspec
def register_unit_moves() -> list[UnitMove]:
    """Contribute named unit moves: ways a transition moves a case between units.

    Return `UnitMove` objects. A workflow transition names them under ``moves:``; validation fails
    on a name no plugin registered. A move's ``handling`` and ``subtasks`` run with the
    deployment's context in the transition's transaction, so their reads see it and a refusal
    (a GridcaseError) rolls it back. The built-ins are ``joint_order`` and ``raise_units``
    (gridcase.plugins.builtin.joint_orders and .tiered_raising).
    """


@hookspec(firstresult=True)
def split_case_consequences(
    ctx: HookContext, case: CaseView, rule: str, units: list[Share]
) -> list[Share] | None:
    """Split one case's deduction among its responsible units.

    ``rule`` is the deduction rule's code; ``units`` is the routing result's list of
    ``{"unit", "share"}``. Return the list to use
    instead, with shares adding up to 1, or None for the routing shares. firstresult.
    """


@hookspec
def adjust_scores(ctx: HookContext, results: list[dict[str, Any]], period: Period) -> list[ScoreAdjustment]:
    """Contribute score adjustments after composites are computed.

    ``results`` has one entry per assessed object: ``object``, ``code``, ``name``, ``class``,
    ``values`` (each indicator's value, plugin facts' included), ``composite`` and ``score``.
    Return `ScoreAdjustment` entries (``object``, ``points``, ``reason``, ``cases``: ids); they
    are added to the scores and appear in the explanations.
    """
