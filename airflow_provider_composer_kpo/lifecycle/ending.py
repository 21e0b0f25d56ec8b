"""How a task ends once its pod is done with: one pure decision for the synchronous and the resumed path.

Upstream ends a task in ``cleanup``, from its ``finally``. A deferred task resumed from its trigger
ends there too, or, when its pod was deleted before the task resumed, at once. Both gather
:class:`EndingFacts` (the reads, the deletion and the raising stay with the operator) and act on
the :class:`Ending` that :func:`decide_ending` returns, so both modes end alike by construction.
The first row that matches decides:

==  ====================================================  ================================================
#   facts                                                 ending
==  ====================================================  ================================================
1   preflight stopped the task                            ``PREFLIGHT``: its error; no pod, no cleanup
2   the API server refused to create the pod              ``REFUSED``: the refusal; no pod, no cleanup
3   resumed, and the pod was deleted before that          the trigger's error, if any (``GOES_ON``); else
                                                          the failure it sent (``FAILED``); else, with
                                                          an XCom to push, ``FAILED``; else ``GONE``
4   ``on_kill`` ran                                       ``KILLED``
5   upstream's cleanup raised a subclass of its error     ``UPSTREAM``: it goes on (a skip, ...)
6   a startup verdict                                     ``STARTUP`` if upstream's cleanup raised, else
                                                          ``GOES_ON``: the verdict is the error in flight
7   an error stopped the task while the pod ran (not a    ``GOES_ON`` when no pod was known; our own
    deferral)                                             ``PodFailedError``: ``OWN_VERDICT``;
                                                          ``execution_timeout``: ``TIMED_OUT``; the pod
                                                          taken away: ``DISRUPTED``; else ``GOES_ON``
8   upstream's cleanup raised nothing                     ``GOES_ON``: nothing to add
9   the base container failed                             ``FAILED``: reason, exit code, last log lines
10  a Composer 3 placeholder succeeded                    ``PLACEHOLDER_SUCCEEDED``: a log line, no error
11  otherwise                                             ``UPSTREAM``: its "Pod ... returned a failure"
==  ====================================================  ================================================

Row 7 replaces upstream's stale "Pod ... returned a failure", which would hide the real cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from ..compat import AirflowTaskTimeout, TaskDeferred
from ..exceptions import PodFailedError

PLACEHOLDER_SUCCEEDED_MESSAGE = "Composer 3: the placeholder pod succeeded, so its peer VM's containers did"
_GONE = "was deleted before the task resumed"


class Interruption(Enum):
    """The error in flight when the ending is decided (in upstream's ``finally``), by kind."""

    NONE = "none"
    #: ``TaskDeferred``: the task goes on in the triggerer; not an interruption.
    DEFERRED = "deferred"
    #: A ``PodFailedError`` of this package (a disruption, the trigger's verdict): it names what happened.
    OWN_VERDICT = "own_verdict"
    #: ``AirflowTaskTimeout``: the task's ``execution_timeout``.
    TIMEOUT = "timeout"
    OTHER = "other"

    @classmethod
    def of(cls, error: BaseException | None) -> Interruption:
        """Return the kind of ``error``."""
        if error is None:
            return cls.NONE
        if isinstance(error, TaskDeferred):
            return cls.DEFERRED
        if isinstance(error, PodFailedError):
            return cls.OWN_VERDICT
        if isinstance(error, AirflowTaskTimeout):
            return cls.TIMEOUT
        return cls.OTHER


class UpstreamError(Enum):
    """What upstream's ``cleanup`` raised."""

    #: Nothing, or it did not run (no pod to clean up).
    NONE = "none"
    #: A plain ``AirflowException``: its "Pod ... returned a failure".
    PLAIN = "plain"
    #: A subclass: a skip (``skip_on_exit_code``) or another deliberate error.
    OTHER = "other"


class EndingKind(Enum):
    """What the operator does; "the error in flight" is the one that stopped the task, if any."""

    PREFLIGHT = "preflight"  # raise the preflight error
    REFUSED = "refused"  # raise the creation refusal, from None
    KILLED = "killed"  # raise PodKilledError (from upstream's error, if it raised one)
    STARTUP = "startup"  # raise the startup verdict, from None
    OWN_VERDICT = "own_verdict"  # raise the error in flight, from None
    TIMED_OUT = "timed_out"  # delete the pod unless kept; raise AirflowTaskTimeout naming it, from the error
    DISRUPTED = "disrupted"  # raise PodDisruptedError for the verdict in ``message``, from the error in flight
    FAILED = "failed"  # raise PodFailedError(message), from None
    UPSTREAM = "upstream"  # upstream's error goes on
    PLACEHOLDER_SUCCEEDED = "placeholder_succeeded"  # log ``message``; the task succeeds
    GONE = "gone"  # log ``message`` as a warning; the task succeeds
    GOES_ON = "goes_on"  # add nothing: the error in flight, if any, goes on


@dataclass(frozen=True)
class Ending:
    """The verdict: what to raise or log; ``message`` where the kind has one."""

    kind: EndingKind
    message: str | None = None


@dataclass(frozen=True)
class EndingFacts:
    """What ``cleanup`` or the resumed task knows when the task ends."""

    preflight_failed: bool = False
    creation_refused: bool = False
    #: Resumed from the trigger, and the pod was deleted before that: no cleanup runs.
    pod_gone: bool = False
    startup_failed: bool = False
    stopped_by_on_kill: bool = False
    interruption: Interruption = Interruption.NONE
    #: Whether the pod handed to cleanup has metadata (no pod is known before one was built).
    pod_known: bool = True
    upstream_error: UpstreamError = UpstreamError.NONE
    #: The failed pod's message (:func:`failure_message`), or None if its base container did not fail.
    failure: str | None = None
    #: What took the running pod away (:func:`~.interruption.pod_disruption`), or None.
    disruption: str | None = None
    placeholder_succeeded: bool = False
    #: The task pushes an XCom (``do_xcom_push``): a pod gone before the resume lost it.
    xcom_expected: bool = False
    #: The pod as ``namespace/name``, for the messages.
    name: str = "(none yet)"

    @property
    def no_pod_created(self) -> bool:
        """Whether no pod exists to clean up (preflight stopped the task, or the create was refused)."""
        return self.preflight_failed or self.creation_refused

    @property
    def interrupted(self) -> bool:
        """Whether an error stopped the task while its pod ran.

        A deferral is not one, and on ``on_kill`` or a startup verdict the task says what happened itself.
        """
        if self.startup_failed or self.stopped_by_on_kill:
            return False
        return self.interruption not in (Interruption.NONE, Interruption.DEFERRED)

    @property
    def judges_failure(self) -> bool:
        """Whether the base container's failure is worth reading (an API call): nothing else explains the end."""
        return not self.startup_failed and not self.interrupted

    @property
    def reads_disruption(self) -> bool:
        """Whether to read the pod (an API call) for what took it away: neither our verdict nor a timeout says."""
        return self.interrupted and self.interruption is Interruption.OTHER and self.pod_known


def decide_ending(facts: EndingFacts) -> Ending:
    """Return how the task ends, by the module's table."""
    if facts.preflight_failed:
        return Ending(EndingKind.PREFLIGHT)
    if facts.creation_refused:
        return Ending(EndingKind.REFUSED)
    if facts.pod_gone:
        return _gone_before_resume(facts)
    if facts.stopped_by_on_kill:
        return Ending(EndingKind.KILLED)
    if facts.upstream_error is UpstreamError.OTHER:
        return Ending(EndingKind.UPSTREAM)
    if facts.startup_failed:
        return Ending(EndingKind.STARTUP if facts.upstream_error is UpstreamError.PLAIN else EndingKind.GOES_ON)
    if facts.interrupted:
        return _interrupted(facts)
    if facts.upstream_error is UpstreamError.NONE:
        return Ending(EndingKind.GOES_ON)
    if facts.failure is not None:
        return Ending(EndingKind.FAILED, facts.failure)
    if facts.placeholder_succeeded:
        # Upstream looked for the base container on the placeholder; Composer 3 runs it on the VM.
        return Ending(EndingKind.PLACEHOLDER_SUCCEEDED, PLACEHOLDER_SUCCEEDED_MESSAGE)
    return Ending(EndingKind.UPSTREAM)


def _interrupted(facts: EndingFacts) -> Ending:
    if not facts.pod_known:
        return Ending(EndingKind.GOES_ON)
    if facts.interruption is Interruption.OWN_VERDICT:
        return Ending(EndingKind.OWN_VERDICT)  # already naming what happened
    if facts.interruption is Interruption.TIMEOUT:
        return Ending(EndingKind.TIMED_OUT)
    if facts.disruption is not None:
        return Ending(EndingKind.DISRUPTED, facts.disruption)
    return Ending(EndingKind.GOES_ON)


def _gone_before_resume(facts: EndingFacts) -> Ending:
    if facts.interruption is not Interruption.NONE:
        return Ending(EndingKind.GOES_ON)  # the trigger's verdict, as it sent it
    if facts.failure is not None:
        return Ending(EndingKind.FAILED, f"{facts.failure} It {_GONE}; its log is gone.")
    if facts.xcom_expected:
        return Ending(EndingKind.FAILED, f"Pod {facts.name} succeeded but {_GONE}; its XCom result is gone.")
    return Ending(EndingKind.GONE, f"Pod {facts.name} succeeded and {_GONE}; its log is gone")


def failure_message(pod: str, summary: str, container: str = "", log_tail: Sequence[str] = ()) -> str:
    """Return the message for a failed pod ``namespace/name``: how its base container failed, its last log lines."""
    message = f"Pod {pod} failed: {summary}."
    if not log_tail:
        return message
    lines = "\n".join(f"  {line}" for line in log_tail)
    return f"{message}\nLast {len(log_tail)} log lines of {container!r}:\n{lines}"
