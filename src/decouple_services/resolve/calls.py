"""Call sites: recognised requests, resolved to a callee, with flags and evidence.

For each recorded call the detectors decide whether it is a request; its url is rendered
(``resolve/values.py``), its host mapped to a service (``resolve/hosts.py``) and its path
matched to one of the callee's endpoints. A request inside a helper whose host comes from the
helper's parameters is a *wrapper* site; each invocation of the helper becomes a call site of
its own, with the helper's parameters bound to the invocation's arguments, through as many
levels of helpers as the code has.
"""

from __future__ import annotations

import gc
import io
import operator
import re
import tokenize
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields, replace
from typing import Any, Protocol

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.model import (
    EXTERNAL_PREFIX,
    UNKNOWN,
    CallSite,
    Category,
    Confidence,
    Endpoint,
    ResponseUse,
    Role,
    call_site_id,
)
from decouple_services.core.records import record
from decouple_services.detect.base import Detector, Match
from decouple_services.detect.events import EventSend
from decouple_services.detect.facts import (
    BASES,
    CALL_PARAM,
    CallHead,
    FileFacts,
    RawCall,
    call_heads,
    whole_call,
)
from decouple_services.detect.grpc_ import channel_target
from decouple_services.detect.receivers import ParamsOf, follow, resolve_receiver
from decouple_services.detect.registry import match_call
from decouple_services.detect.values import (
    ANSWER,
    ANY_KEY,
    Concat,
    Dyn,
    Env,
    Join,
    Lit,
    Obj,
    Param,
    Ref,
    Value,
    decode,
    substitute,
)
from decouple_services.discover.grpc_servers import GrpcServicer
from decouple_services.resolve.endpoints import path_length, template_length
from decouple_services.resolve.hosts import LEARNT_AT_RUN_TIME, HostMap, Target, split_url
from decouple_services.resolve.index import ProjectIndex
from decouple_services.resolve.infer import (
    CalleeInference,
    Inferred,
    by_api_vendor,
    by_collector,
    by_presigned_url,
    by_webhook_vendor,
    host_names,
    host_part,
)
from decouple_services.resolve.infer import words as name_words
from decouple_services.resolve.redact import redact_url
from decouple_services.resolve.values import Rendered, ValueRenderer, returned_value

EndpointMatcher = Callable[[str | None, str, Sequence[Endpoint]], Endpoint | None]
#: Between a mapping's name and the placeholder of its value in a draft's ``one_of``.
_PLACEHOLDER_SEP = "\x1f"
MAX_WRAPPER_LEVELS = 5


@record(slots=False)
class Wrapper:
    """A helper whose request's host comes from its parameters."""

    qualname: str
    params: tuple[str, ...]
    is_method: bool
    #: The request inside it, with the helper's parameters still symbolic.
    call: RawCall
    receiver: Obj | None
    #: None for a helper calling the request function it is handed (``method(url)``).
    match: Match | None
    #: The host is fixed and only the path comes from the parameters (``def get(path):
    #: requests.get(USERS + path)``): each use is a call site with its own endpoint, and
    #: the helper's request stays a call site when no use of it is found.
    path_only: bool = False
    #: The host is the default of the class's constructor and the class's objects are
    #: built where they are used (``DMSClient().merge(...)``): each method call on such an
    #: object is a call site, read with its constructor's arguments; the request stays the
    #: call site when no such use is found.
    by_default: bool = False
    #: The helpers between this one and the request, outermost first.
    inner: tuple[str, ...] = ()

    @property
    def short_name(self) -> str:
        return self.qualname.rpartition(".")[2]

    @property
    def invoked_as(self) -> tuple[str, ...]:
        """The names an invocation calls it by: its own, and for a constructor the class's
        (``Client(url)`` runs ``Client.__init__``)."""
        prefix, _, short = self.qualname.rpartition(".")
        if short == "__init__" and prefix:
            return (short, prefix.rpartition(".")[2])
        return (short,)


def wrapper_to_json(wrapper: Wrapper) -> list[Any]:
    """A helper in JSON, for a file's first pass kept between scans (``app/incremental.py``
    checks that :func:`wrapper_from_json` gives it back equal before keeping it)."""
    from decouple_services.detect.facts import call_to_json
    from decouple_services.detect.values import encode

    def value(v: Value | None) -> Any:
        return None if v is None else encode(v)

    match = wrapper.match
    encoded_match = (
        None
        if match is None
        else [
            match.client,
            match.method,
            encode(match.url),
            match.url_src,
            value(match.base),
            match.protocol,
            match.has_timeout,
            match.payload,
            match.is_async,
            value(match.service),
            None if match.category is None else match.category.value,
            match.grpc_stub,
            match.streaming,
            match.library_only,
            match.collector,
            match.background,
        ]
    )
    return [
        wrapper.qualname,
        list(wrapper.params),
        wrapper.is_method,
        call_to_json(wrapper.call),
        value(wrapper.receiver),
        encoded_match,
        wrapper.path_only,
        wrapper.by_default,
        list(wrapper.inner),
    ]


def wrapper_from_json(data: list[Any]) -> Wrapper:
    """The helper :func:`wrapper_to_json` encoded; raises on anything else."""
    from decouple_services.detect.facts import call_from_json

    def value(v: Any) -> Value | None:
        return None if v is None else decode(v)

    qualname, params, is_method, call, receiver, m, path_only, by_default, inner = data
    match = None
    if m is not None:
        url = decode(m[2])
        match = Match(
            client=m[0],
            method=m[1],
            url=url,
            url_src=m[3],
            base=value(m[4]),
            protocol=m[5],
            has_timeout=m[6],
            payload=m[7],
            is_async=m[8],
            service=value(m[9]),
            category=None if m[10] is None else Category(m[10]),
            grpc_stub=m[11],
            streaming=m[12],
            library_only=m[13],
            collector=m[14],
            background=m[15],
        )
    held = value(receiver)
    if not (held is None or isinstance(held, Obj)):
        raise ValueError("a helper's receiver is an object")
    return Wrapper(
        qualname,
        tuple(params),
        is_method,
        call_from_json(call),
        held,
        match,
        path_only=path_only,
        by_default=by_default,
        inner=tuple(inner),
    )


@record(frozen=False, slots=False)
class Resolution:
    call_sites: list[CallSite]
    wrappers: dict[str, Wrapper]


@record
class CallOutcome:
    """One call of a file before any helper is known: the object its method is called on,
    and the call site when a detector took the call. A receiver kept in its JSON form
    (``encoded``, from an earlier scan) is decoded when a helper lookup needs it. With
    slots: a rerun makes one for each call of every file with calls (polar: 8,000), and
    a record with slots stores its fields through their slots' setters, a third faster."""

    receiver: Obj | None
    site: CallSite | None = None
    wrapper: Wrapper | None = None
    encoded: Any = None

    def receiver_value(self) -> Obj | None:
        if self.encoded is None:
            return self.receiver
        value = decode(self.encoded)
        if not isinstance(value, Obj):
            raise ValueError("a receiver is an object")
        object.__setattr__(self, "receiver", value)
        object.__setattr__(self, "encoded", None)
        return value


@record(slots=False)
class FilePass:
    """A file's calls resolved on their own (``None`` for a call ``# decouple: ignore``
    skips), and the functions handed a request function (``def _request(self, method,
    url): method(url)``) that become helpers unless a helper of that name is found."""

    outcomes: tuple[CallOutcome | None, ...]
    handed: tuple[Wrapper, ...] = ()

    @property
    def standalone(self) -> bool:
        """Whether nothing here depends on the other files' helpers: no helper found in
        the file, none handed a request function."""
        return not self.handed and all(o is None or o.wrapper is None for o in self.outcomes)


class ResolutionMemo(Protocol):
    """Earlier resolutions of a file, reused while what they read is unchanged.

    The resolver tells the memo which file its lookups are made for (:meth:`enter`) and
    hands it each fresh result (:meth:`keep`); the memo records the lookups itself (the
    index it watches is the scan's). :meth:`recall` gives a file's earlier result when the
    file's calls and every definition its resolution read are unchanged. The ``idle``
    variants do the same for looking up helpers when no helper is known: nothing is found,
    but the lookups count (they say which files define what resolution needs).
    """

    def start(self, index: ProjectIndex, checking: frozenset[str]) -> None: ...

    def recall(self, facts: FileFacts) -> FilePass | None: ...

    def enter(self, facts: FileFacts) -> None: ...

    def keep(self, facts: FileFacts, result: FilePass) -> None: ...

    def recall_idle(self, facts: FileFacts) -> bool: ...

    def enter_idle(self, facts: FileFacts) -> None: ...

    def keep_idle(self, facts: FileFacts) -> None: ...

    def checked(self, client: str) -> None:
        """The resolution being made read whether ``client`` checks its requests'
        success (is among :meth:`start`'s ``checking``)."""


class EndpointMatches:
    """The endpoint each call reaches and the services routing each path, kept from one
    resolution to the next while the endpoints are the same: on-demand parsing resolves
    several times over (polar: five), and matching thousands of test calls against a
    thousand routes each time was a few percent of its scan. Both answers depend on the
    endpoints alone (and on which files are production code, the same for a scan)."""

    def __init__(self) -> None:
        self.endpoints: tuple[Endpoint, ...] | None = None
        self.by_call: dict[tuple[str, str | None, str], Endpoint | None] = {}
        self.routed: dict[tuple[str | None, str], tuple[str, ...]] = {}

    def use(self, endpoints: Sequence[Endpoint]) -> None:
        current = tuple(endpoints)
        if current != self.endpoints:
            self.endpoints = current
            self.by_call = {}
            self.routed = {}


class CallResolver:
    def __init__(
        self,
        index: ProjectIndex,
        detectors: Sequence[Detector],
        hosts: HostMap,
        endpoints: Sequence[Endpoint],
        categorize: Callable[[str], Category],
        match_endpoint: EndpointMatcher,
        servicers: Sequence[GrpcServicer] = (),
        matches: EndpointMatches | None = None,
    ) -> None:
        self.index = index
        self.detectors = detectors
        self.hosts = hosts
        self.endpoints_by_service: dict[str, list[Endpoint]] = defaultdict(list)
        for endpoint in endpoints:
            self.endpoints_by_service[endpoint.service].append(endpoint)
        self.handlers = {e.handler for e in endpoints}
        self.inference = CalleeInference(
            index.services,
            endpoints,
            lambda path: categorize(path) is Category.PRODUCTION,
            servicers,
            images=hosts.infra,
        )
        self.categorize = categorize
        self.match_endpoint = match_endpoint
        #: Service -> its production HTTP endpoints, and (method, path) -> the services
        #: routing it: made on first use, for :meth:`_routed`.
        #: service -> its production HTTP endpoints by the length of their templates
        self._routable: dict[str, dict[int, list[Endpoint]]] | None = None
        #: callee -> its HTTP endpoints by template length (see :meth:`_http_for`)
        self._http_by_length: dict[str, dict[int, list[Endpoint]]] = {}
        self._routes_for: dict[tuple[str | None, str], tuple[str, ...]] = {}
        #: (callee, method, path) -> the endpoint it reaches; many calls share one.
        self._endpoint_for: dict[tuple[str, str | None, str], Endpoint | None] = {}
        if matches is not None:
            # answers of an earlier resolution over the same endpoints, and this one's
            matches.use(endpoints)
            self._endpoint_for = matches.by_call
            self._routes_for = matches.routed
        self._client_modules = frozenset(m for d in detectors for m in d.modules)
        #: The helpers by their last name, for :meth:`_by_suffix`: the dictionary of helpers
        #: it was made from and its size then.
        self._shorts: tuple[dict[str, Wrapper], int, dict[str, list[str]]] | None = None
        #: While invocations are looked up level by level: (class, name, caller) -> the
        #: helper :meth:`_method_wrapper` found, with the dictionary of helpers and its size
        #: then (see :meth:`_method_wrapper`).
        self._methods: (
            tuple[dict[str, Wrapper], int, dict[tuple[str, str, str | None], Wrapper | None]] | None
        ) = None
        #: Functions making a request (what they return is a service's answer).
        self._requesting: frozenset[str] = frozenset()
        #: Of the last site drafted: its host is another service's answer; its host is
        #: known only at run time (that answer, or a value no configuration names).
        self._last_from_response = False
        self._last_runtime_host = False
        #: The memo of the resolution under way, told which clients' checking is read.
        self._memo: ResolutionMemo | None = None
        #: Functions whose request's success they check themselves: a configured client
        #: (``shopcore.rpc.call_service``) defined in the repository and doing so aborts
        #: the callers that ignore its answer.
        self._checking = frozenset(
            call.function
            for facts in index.facts
            for call in call_heads(facts.calls)
            if call.status_checked
        )

    # --- entry point -------------------------------------------------------------------------

    def resolve(self, memo: ResolutionMemo | None = None) -> Resolution:
        """Every call site of the tree, its helpers and their invocations (see the module).

        The cycle collector is off meanwhile: a rerun's resolution decodes the kept
        resolutions of every file with calls (polar: 2 MB of JSON) and makes a site of each
        call, and each collection of the older generations the collector makes on the way
        walks every object alive that is not frozen, the facts included; resolving makes
        no reference cycles to speak of, and what it leaves is collected once it ends (a
        tenth of polar's resolution after an edit). A collector already off is left off."""
        self._memo = memo
        try:
            if not gc.isenabled():
                return self._resolve(memo)
            gc.disable()
            try:
                return self._resolve(memo)
            finally:
                gc.enable()
        finally:
            # held for this resolution alone: the scan lets the memo (every kept
            # resolution) go before its last writes, while the resolver may still be held
            self._memo = None

    def alone(self, facts: FileFacts, names: set[str]) -> bool:
        """Whether ``facts``, resolved in a round whose helpers are invoked by ``names``
        (any of them), gives that round no helper: its first pass finds none of its own and
        none handed a request function, its call sites are none a mapping's values fan out,
        and none of its calls without a site may invoke one of those helpers
        (:func:`_may_invoke`). The lookups are the round's for this file: its first pass,
        then for each call without a site those of the helper it may invoke, which are the
        same whatever helpers the round knows when none is found (the answer decides only
        where the walk of a class's bases stops). No other file is resolved."""
        done = self._first_pass(facts)
        if done.handed:
            return False
        for call, outcome in zip(facts.calls, done.outcomes, strict=True):
            if outcome is None:
                continue
            if outcome.site is not None:
                if outcome.wrapper is not None or outcome.site.one_of is not None:
                    return False
                continue
            if _may_invoke(call, names):
                return False
            self._wrapper_for(call, facts, {}, outcome)
        return True

    def _resolve(self, memo: ResolutionMemo | None) -> Resolution:
        drafts: list[tuple[FileFacts, CallSite]] = []
        wrappers: dict[str, Wrapper] = {}
        own_site: dict[str, int] = {}
        #: Helper -> its requests, and its uses of other helpers still taking the host
        #: from its parameters (drafts of role wrapper).
        own_sites: dict[str, list[int]] = defaultdict(list)
        #: Helper -> the draft of the request its uses are bound to.
        bound_to: dict[str, int] = {}
        #: Helpers whose own request is a draft (not ones found handing parameters on).
        direct: set[str] = set()
        uses: dict[str, int] = defaultdict(int)
        #: Helper -> every invocation found, whatever became of it (a site, a helper
        #: handing its parameters on, a use a test replaces with a mock).
        seen: dict[str, int] = defaultdict(int)
        uses_of: dict[str, list[int]] = defaultdict(list)
        #: Calls without a site of their own, looked up as helpers' invocations: of a file
        #: whose first pass was recalled, the heads of calls still encoded (``call_heads``)
        pending: list[tuple[FileFacts, RawCall | CallHead, CallOutcome]] = []
        handed: list[Wrapper] = []
        if memo is not None:
            memo.start(self.index, self._checking)
        for facts in self.index.facts:
            if not facts.calls:
                continue
            done = memo.recall(facts) if memo is not None else None
            if done is None:
                if memo is not None:
                    memo.enter(facts)
                done = self._first_pass(facts)
                if memo is not None:
                    memo.keep(facts, done)
            handed.extend(done.handed)
            for call, outcome in zip(call_heads(facts.calls), done.outcomes, strict=True):
                if outcome is None:
                    continue
                if outcome.site is None:
                    pending.append((facts, call, outcome))
                    continue
                drafts.append((facts, outcome.site))
                wrapper = outcome.wrapper
                if wrapper is not None:
                    wrappers[wrapper.qualname] = wrapper
                    own_site[wrapper.qualname] = bound_to[wrapper.qualname] = len(drafts) - 1
                    own_sites[wrapper.qualname].append(len(drafts) - 1)
                    direct.add(wrapper.qualname)
        self._requesting = frozenset(site.function for _, site in drafts)
        for helper in handed:
            if helper.qualname not in wrappers:
                wrappers[helper.qualname] = helper
        if not wrappers:
            # No helper is known: looking one up finds none, but the lookups are what
            # resolution asks for, file by file.
            for facts, group in _by_file(pending):
                if memo is not None and memo.recall_idle(facts):
                    continue
                if memo is not None:
                    memo.enter_idle(facts)
                for call, outcome in group:
                    self._wrapper_for(call, facts, wrappers, outcome)
                if memo is not None:
                    memo.keep_idle(facts)
            pending = []
        #: Uses that hand a helper nothing but an address the running program learns (a
        #: loop over discovered instances, another service's answer): their draft -> whether
        #: it is a call site (else a helper's use handing on its own parameter).
        handing: dict[int, bool] = {}
        #: A use inside a helper, still taking the host from that helper's parameter ->
        #: that helper.
        nested_in: dict[int, str] = {}
        answered: set[str] = set()
        # Invocations of helpers, level by level: a helper calling a helper is found once the
        # inner one is known.
        finished: set[tuple[str, int, int]] = set()
        #: Uses of a helper reading a constructor's default on an object handed in.
        handed_in: list[tuple[FileFacts, RawCall, Wrapper]] = []
        # a tree's calls ask about the same few methods of the same classes thousands of
        # times (polar: a tenth of its rerun's resolution); no file's lookups are recorded
        # apart from here on, so the answer of one is the answer of all
        self._methods = (wrappers, len(wrappers), {})
        #: The pending calls no helper took at the last level (their positions in
        #: ``pending``), and the last names of the helpers added since (None at the first
        #: level): such a call is asked again only when a helper it could invoke was added.
        untaken: set[int] = set()
        added: set[str] | None = None
        for _ in range(MAX_WRAPPER_LEVELS):
            new: dict[str, Wrapper] = {}
            for at, (facts, head, outcome) in enumerate(pending):
                key = (facts.path, head.line, head.col)
                if key in finished:
                    continue
                if added is not None and at in untaken and not _may_invoke(head, added):
                    # the same answer (none) from the same lookups, which recorded their
                    # reads and asks at the last level: a tree's calls are thousands, its
                    # helpers' levels three or four (homeassistant: 35,000 lookups a rerun)
                    continue
                wrapper = self._wrapper_for(head, facts, wrappers, outcome)
                if wrapper is None:
                    untaken.add(at)
                    continue
                untaken.discard(at)
                call = whole_call(facts.calls, head)
                if self._unpacked_test_use(facts, call, wrapper):
                    # a test running an SDK function with a table of arguments: the address
                    # is not there, the function's own request is the call site
                    finished.add(key)
                    continue
                used = self._used_object(call, outcome)
                if wrapper.by_default and used is None and not _on_self(call):
                    # an object handed in (`api: CatalogClient`): what it was built with is
                    # not known here; a call site only when objects are seen built elsewhere
                    handed_in.append((facts, call, wrapper))
                    finished.add(key)
                    continue
                invoked, inner = self._invocation(facts, call, wrapper, used)
                if wrapper.match is None and invoked is None and inner is None:
                    # handed no request function here; a helper of the same name found at
                    # a later level may still take this call
                    continue
                finished.add(key)
                seen[wrapper.qualname] += 1
                if invoked is not None:
                    drafts.append((facts, invoked))
                    index = len(drafts) - 1
                    uses[wrapper.qualname] += 1
                    uses_of[wrapper.qualname].append(index)
                    bound = bound_to.get(wrapper.qualname)
                    path = _path_of(drafts[bound][1]) if bound is not None else None
                    same_path = path is not None and _path_of(invoked) == path
                    if inner is not None:
                        nested_in[index] = inner.qualname
                        own_sites[inner.qualname].append(index)
                        if same_path:
                            handing[index] = False
                    elif same_path and (
                        self._last_from_response or (self._last_runtime_host and path != "")
                    ):
                        # a run-time address handed to a helper that takes the whole url
                        # (`download(invoice.pdf_url)`) is the use's own target
                        handing[index] = True
                        if self._last_from_response:
                            answered.add(wrapper.qualname)
                known = wrappers.get(inner.qualname) if inner is not None else None
                if inner is not None and (known is None or known.match is None):
                    new[inner.qualname] = inner
                    own_site.setdefault(inner.qualname, len(drafts) - 1)
                    bound_to[inner.qualname] = len(drafts) - 1
            if not new:
                break
            wrappers.update(new)
            added = {qualname.rpartition(".")[2] for qualname in new}
        self._methods = None
        live = _built_where_used(wrappers, uses_of, drafts, nested_in)
        for facts, call, wrapper in handed_in:
            if wrapper.qualname not in live:
                continue
            invoked, _ = self._invocation(facts, call, wrapper)
            if invoked is not None:
                drafts.append((facts, invoked))
                uses[wrapper.qualname] += 1
                seen[wrapper.qualname] += 1
        unbuilt: set[int] = set()
        naming = self._naming(
            {wrappers[q].short_name for q in own_site if q in direct and not seen.get(q)}
        )
        for qualname, index in own_site.items():
            if wrappers[qualname].by_default:
                if qualname not in live:
                    unbuilt |= self._unbuilt(drafts, own_sites[qualname], wrappers, live)
            elif wrappers[qualname].path_only and not uses[qualname]:
                # a path helper nobody is seen calling: its request is the call site
                facts, site = drafts[index]
                drafts[index] = (facts, replace(site, role=Role.CALL))
            elif (
                qualname in direct
                and not seen[qualname]
                and not self._referenced(wrappers[qualname], naming)
            ):
                # a host helper nothing in the tree calls (a command-line entry point run
                # by its framework): its requests are the call sites
                for mine in own_sites[qualname]:
                    if drafts[mine][1].role is Role.WRAPPER:
                        drafts[mine] = self._uncalled_helper(drafts[mine], wrappers[qualname])
        dropped = unbuilt | self._settle_run_time_helpers(
            drafts, wrappers, own_sites, uses_of, handing, nested_in, answered
        )
        kept = _next_pages([draft for i, draft in enumerate(drafts) if i not in dropped])
        kept = [(facts, s) for facts, site in kept for s in self._fanned_out(site)]
        kept = self._run_time_peers(kept)
        events = [self._event_site(f, e) for f in self.index.facts for e in f.events]
        return Resolution(self._assign_ids(kept) + events, wrappers)

    @staticmethod
    def _unbuilt(
        drafts: list[tuple[FileFacts, CallSite]],
        mine: list[int],
        wrappers: dict[str, Wrapper],
        live: set[str],
    ) -> set[int]:
        """A helper reading its class's constructor default whose objects are never seen
        built where a method is called on them: its request is the call site again, and a
        use of another such helper inside it is none (that one's request is). Returns the
        drafts to drop."""
        dropped: set[int] = set()
        for index in mine:
            facts, site = drafts[index]
            if site.role is not Role.WRAPPER:
                continue
            inner = wrappers.get(site.via_wrapper or "")
            if inner is not None and inner.by_default and inner.qualname not in live:
                dropped.add(index)
            else:
                drafts[index] = (facts, replace(site, role=Role.CALL))
        return dropped

    def _settle_run_time_helpers(
        self,
        drafts: list[tuple[FileFacts, CallSite]],
        wrappers: dict[str, Wrapper],
        own_sites: dict[str, list[int]],
        uses_of: dict[str, list[int]],
        handing: dict[int, bool],
        nested_in: dict[int, str],
        answered: set[str],
    ) -> set[int]:
        """Helpers every use of which hands them only an address the running program learns
        (``for pod in watch(): get_models(pod.ip)``, ``worker_addr`` read from a
        controller's answer), directly or through helpers handing it on: those uses know no
        more than the helper, so its own requests, where their paths are fixed, are the call
        sites, each callee inferred from the names the address goes by. Returns the drafts
        that are no call sites then: those uses, and the helpers' uses of such helpers."""
        settled: set[str] = set()
        grown = True
        while grown:
            grown = False
            for qualname, found in uses_of.items():
                if (
                    qualname in settled
                    or wrappers[qualname].path_only
                    or wrappers[qualname].by_default
                ):
                    continue
                if all(
                    handing.get(i) is True
                    or (handing.get(i) is False and nested_in.get(i) in settled)
                    for i in found
                ):
                    settled.add(qualname)
                    grown = True
        dropped: set[int] = set()
        for qualname in settled:
            dropped.update(uses_of[qualname])
        for qualname in settled:
            learnt = (
                "read from another service's answer" if qualname in answered else LEARNT_AT_RUN_TIME
            )
            why = f"every use of {qualname} hands it an address {learnt}"
            handed = _handed_names(qualname, drafts, uses_of, handing, nested_in, {qualname})
            for index in own_sites[qualname]:
                if index in dropped:
                    continue
                if drafts[index][1].role is Role.WRAPPER:
                    drafts[index] = self._answered_helper(
                        drafts[index], wrappers[qualname], why, handed
                    )
        return dropped

    def _run_time_peers(
        self, drafts: list[tuple[FileFacts, CallSite]]
    ) -> list[tuple[FileFacts, CallSite]]:
        """A service that learns its peers' addresses at run time (pods it discovers,
        the backend its router picks for each request) learns them from one place: when
        every such address of its production code whose names say where it goes reaches
        one service (``engine_ip`` -> ``engine-service``), its run-time addresses named
        for nothing (``server_url = router.route_request(endpoints)``, ``info.url``) go to
        that service too."""
        reached: dict[str, set[str]] = defaultdict(set)
        for _, site in drafts:
            if (
                site.role is Role.CALL
                and site.category is Category.PRODUCTION
                and site.confidence is Confidence.INFERRED
                and site.evidence
                and site.evidence[-1].endswith(f"{LEARNT_AT_RUN_TIME})")
                and site.callee not in (UNKNOWN, site.caller)
                and not site.callee.startswith(EXTERNAL_PREFIX)
            ):
                reached[site.caller].add(site.callee)
        out: list[tuple[FileFacts, CallSite]] = []
        for facts, site in drafts:
            peers = reached.get(site.caller, set())
            if (
                len(peers) == 1
                and site.role is Role.CALL
                and site.category is Category.PRODUCTION
                and site.callee == UNKNOWN
                and (site.unknown_reason or "").endswith(LEARNT_AT_RUN_TIME)
                and _path_of(site).strip("/")
            ):
                (peer,) = peers
                why = (
                    f"every address {site.caller} learns at run time that is named for a "
                    f"service reaches {peer} ({site.unknown_reason})"
                )
                site = _inferred(site, peer, why, self._inferred_endpoint(site, peer))
            out.append((facts, site))
        return out

    def _inferred_endpoint(self, site: CallSite, callee: str) -> str | None:
        """The endpoint of an inferred callee the site's path reaches, else the site's own."""
        path = _path_of(site) or "/"
        http = self._http_for(callee, path)
        endpoint = self.match_endpoint(site.method, path, http) if http else None
        return endpoint.label if endpoint is not None else site.endpoint

    def _http_for(self, callee: str, path: str) -> list[Endpoint]:
        """The HTTP endpoints of ``callee`` that a call to ``path`` may reach: those whose
        template has the path's length, in their order (``match_endpoint`` sets the others
        aside first). A large app has a thousand routes and its tests call thousands of
        paths: matching each against every route was a tenth of a scan."""
        by_length = self._http_by_length.get(callee)
        if by_length is None:
            by_length = self._http_by_length[callee] = {}
            for e in self.endpoints_by_service.get(callee, []):
                if e.protocol == "http":
                    by_length.setdefault(template_length(e), []).append(e)
        return by_length.get(path_length(path), [])

    def _first_pass(self, facts: FileFacts) -> FilePass:
        """The file's calls, each resolved with the definitions it reads and no helper."""
        ignored = set(facts.ignored_lines)
        caller = self.index.service_of(facts.path)
        outcomes: list[CallOutcome | None] = []
        handed: list[Wrapper] = []
        for call in facts.calls:
            if call.line in ignored or call.line - 1 in ignored:
                outcomes.append(None)
                continue
            receiver = resolve_receiver(
                call.receiver, self.index.lookup(caller), self._params_of(caller)
            )
            match = self._match(call, receiver, caller)
            if match is None:
                outcomes.append(CallOutcome(receiver))
                if call.name == CALL_PARAM and isinstance(call.receiver, Param):
                    # `def _request(self, method, url): method(url)`: a helper whose uses
                    # hand it the request function
                    fn = self.index.function(call.function, caller)
                    if fn is not None:
                        handed.append(
                            Wrapper(call.function, fn.params, fn.is_method, call, None, None)
                        )
                continue
            site, wrapper = self._site(facts, call, receiver, match, via=None)
            outcomes.append(CallOutcome(receiver, site, wrapper))
        return FilePass(tuple(outcomes), tuple(handed))

    def _naming(self, shorts: set[str]) -> dict[str, list[tuple[FileFacts, RawCall | None]]]:
        """Where each of ``shorts`` is named, in the order of the files and their calls: a
        file's references (no call), a call by that name (with the call), a call given a
        reference to it (no call; not for a call by that name, whose arguments are not
        read). One pass over the tree for all the helpers :meth:`_referenced` asks about."""
        out: dict[str, list[tuple[FileFacts, RawCall | None]]] = {}
        if not shorts:
            return out
        for facts in self.index.facts:
            for short in shorts.intersection(facts.references):
                out.setdefault(short, []).append((facts, None))
            # the heads of calls still encoded (the file's calls decoded only when one is
            # named so); a tree's every call passes here (polar: 14,000): the names tested
            # one by one, and a decoded call's arguments walked without a tuple of them
            for call in call_heads(facts.calls):
                named: set[str] = set()
                if call.name in shorts:
                    named.add(call.name)
                tail = (call.func or "").rpartition(".")[2]
                if tail in shorts:
                    named.add(tail)
                for short in named:
                    out.setdefault(short, []).append((facts, whole_call(facts.calls, call)))
                if isinstance(call, CallHead):
                    for short in call.ref_names:
                        if short in shorts and short not in named:
                            named.add(short)
                            out.setdefault(short, []).append((facts, None))
                    continue
                for value in call.args:
                    if isinstance(value, Ref):
                        short = value.qualname.rpartition(".")[2]
                        if short in shorts and short not in named:
                            named.add(short)
                            out.setdefault(short, []).append((facts, None))
                for _, value in call.kwargs:
                    if isinstance(value, Ref):
                        short = value.qualname.rpartition(".")[2]
                        if short in shorts and short not in named:
                            named.add(short)
                            out.setdefault(short, []).append((facts, None))
        return out

    def _referenced(
        self, wrapper: Wrapper, naming: dict[str, list[tuple[FileFacts, RawCall | None]]]
    ) -> bool:
        """Whether the function is named anywhere else: handed on (``executor.submit(f)``,
        ``app.add_command(f)``), whoever receives it calls it; called by a name no helper
        invocation was found for (a configured client matched as a request itself), other
        than by a test unpacking a table of arguments into it. ``naming`` is
        :meth:`_naming` of a set holding the function's short name."""
        for facts, call in naming.get(wrapper.short_name, ()):
            if call is not None and self._unpacked_test_use(facts, call, wrapper):
                continue
            return True
        return False

    def _unpacked_test_use(self, facts: FileFacts, call: RawCall, wrapper: Wrapper) -> bool:
        """A test calling a host helper with its arguments unpacked from a table
        (``report(**kwargs)`` under ``@pytest.mark.parametrize``), none of them naming the
        address: the helper is an entry point the tree's own code does not call (an SDK's
        function its users call), so the test's call is no use of it. A test replacing the
        helper with a mock still counts as calling it."""
        if wrapper.match is None or wrapper.path_only or wrapper.by_default:
            return False
        if not self.index.is_test(facts.path):
            return False
        stars = [
            i for i, a in enumerate(call.args) if isinstance(a, Dyn) and a.text.startswith("*")
        ]
        if not stars and not any(k == "**" for k, _ in call.kwargs):
            return False
        if call.patched and (
            _replaced(call.patched, wrapper, facts.module)
            or self._through_mock(call.patched, wrapper, facts)
        ):
            return False
        params = wrapper.params[1:] if wrapper.is_method else wrapper.params
        given = {k for k, _ in call.kwargs} | set(params[: stars[0] if stars else len(call.args)])
        values = (wrapper.match.url, wrapper.match.base)
        address = {p.name for v in values for p in _params(v) if p.function == wrapper.qualname}
        return bool(address) and not address & given

    def _uncalled_helper(
        self, draft: tuple[FileFacts, CallSite], wrapper: Wrapper
    ) -> tuple[FileFacts, CallSite]:
        """A helper taking its host from parameters nothing in the tree passes (a click
        command's ``--base-url``): its own request is the call site, its callee inferred
        from the parameter's name when one service fits."""
        facts, site = draft
        values = (wrapper.match.url, wrapper.match.base) if wrapper.match is not None else ()
        names = list(
            dict.fromkeys(
                p.name for v in values for p in _params(v) if p.function == wrapper.qualname
            )
        )
        why = (
            f"the address comes from the parameter {', '.join(names) or 'of ' + wrapper.qualname}"
            ", which nothing in the tree passes"
        )
        stub = wrapper.match.grpc_stub if wrapper.match is not None else None
        found = (
            self.inference.by_grpc_server(stub) if stub is not None else None
        ) or self.inference.by_name(names)
        collector = wrapper.match.collector if wrapper.match is not None else None
        if found is None and collector is not None:
            # a test handed the address of a collector it started (a pytest fixture)
            found = by_collector(collector, names)
        if found is None:
            return facts, replace(
                site,
                role=Role.CALL,
                unknown_reason=why,
                fix_hint=(
                    f"add `# decouple: target=<service>` on the line above {site.file}:{site.line}"
                ),
            )
        return facts, replace(
            site,
            role=Role.CALL,
            callee=found.callee,
            confidence=Confidence.INFERRED,
            evidence=(*site.evidence, f"{found.reason} ({why})"),
            unknown_reason=None,
            fix_hint=None,
        )

    def _answered_helper(
        self,
        draft: tuple[FileFacts, CallSite],
        wrapper: Wrapper,
        why: str,
        handed: Sequence[str] = (),
    ) -> tuple[FileFacts, CallSite]:
        """A request (or a use of a helper) inside a helper whose uses add nothing to the
        address: the call site, its callee inferred from the names the host goes by there,
        the helper's parameters and the names its uses give it (``handed``), else from the
        one service routing its path."""
        facts, site = draft
        values = (wrapper.match.url, wrapper.match.base) if wrapper.match is not None else ()
        names = [
            *host_names(site.url_template or ""),
            *(p.name for v in values for p in _params(v) if p.function == wrapper.qualname),
            *handed,
        ]
        found = self.inference.by_name(names)
        if found is None and site.client != "grpc":
            found = self._by_route(site.method, _path_of(site), facts.path, site.category)
        if found is None:
            return facts, replace(site, role=Role.CALL, unknown_reason=why, fix_hint=None)
        endpoint = self._inferred_endpoint(site, found.callee)
        site = replace(site, role=Role.CALL)
        return facts, _inferred(site, found.callee, f"{found.reason} ({why})", endpoint)

    def _event_site(self, facts: FileFacts, event: EventSend) -> CallSite:
        """A send an earlier migration wrote: asynchronous coupling through a topic."""
        function = (
            event.function if event.function == "<module>" else f"{facts.module}.{event.function}"
        )
        return CallSite(
            id=event.site_id,
            caller=self.index.service_of(facts.path) or UNKNOWN,
            file=facts.path,
            line=event.line,
            end_line=event.end_line,
            function=function,
            client="kafka",
            method=None,
            url=event.topic,
            url_template=event.topic,
            callee=event.callee,
            endpoint=event.endpoint,
            evidence=(f"{facts.path}:{event.marker_line} decouple: migrated",),
            category=self.categorize(facts.path),
            role=Role.EVENT,
            is_async=event.is_async,
            has_timeout=True,
            in_handler=function in self.handlers,
            payload=event.payload,
        )

    # --- matching ----------------------------------------------------------------------------

    def _params_of(self, caller: str | None) -> ParamsOf:
        def params(qualname: str) -> tuple[str, ...] | None:
            fn = self.index.function(qualname, caller)
            return fn.params if fn is not None else None

        return params

    def _match(self, call: RawCall, receiver: Obj | None, caller: str | None) -> Match | None:
        call = self._built_request(call, caller)
        return match_call(
            call, receiver, self.detectors, self.index.functions, self.index.lookup(caller)
        )

    def _built_request(self, call: RawCall, caller: str | None) -> RawCall:
        """``client.send(request)`` whose request a function of the project builds and
        returns (``request = self._request("GET", url)``, the method ending in
        ``client.build_request(method, url)``): the library's request object it returns,
        its parameters bound to the call's arguments, so the detector reads its method and
        url; several levels of such functions are followed."""
        if call.name != "send":
            return call
        for _ in range(MAX_WRAPPER_LEVELS):
            positional = bool(call.args)
            value = call.args[0] if positional else call.kwarg("request")
            if not isinstance(value, Obj):
                return call
            returned = returned_value(self.index, value, caller)
            if returned is None or not isinstance(returned[0], Obj) or returned[0] == value:
                return call
            built = returned[0]
            if positional:
                call = replace(call, args=(built, *call.args[1:]))
            else:
                call = replace(
                    call,
                    kwargs=tuple((k, built if k == "request" else v) for k, v in call.kwargs),
                )
        return call

    def _wrapper_for(
        self,
        call: RawCall | CallHead,
        facts: FileFacts,
        wrappers: dict[str, Wrapper],
        first: CallOutcome,
    ) -> Wrapper | None:
        """The helper ``call`` invokes; ``first`` is what the first pass made of it. Reads
        only what a call's head holds (a recalled file's calls are left encoded), but for
        a damaged kept receiver."""
        if call.func is not None:
            # `from network import make_request` in a service whose files are modules of its
            # package (`gateway.network`): the import names the module as the service's own
            # entry point sees it. A class built (`Client(url)`) runs its `__init__`.
            found = wrappers.get(call.func) or self._by_suffix(wrappers, call.func)
            if found is None and call.name[:1].isupper():
                # through a package re-exporting the class (`from .client import Client`)
                cls = follow(Ref(call.func), self.index.lookup(self.index.service_of(facts.path)))
                init = f"{cls.qualname if isinstance(cls, Ref) else call.func}.__init__"
                found = wrappers.get(init) or self._by_suffix(wrappers, init)
            return found
        caller = self.index.service_of(facts.path)
        if call.name == CALL_PARAM and call.obj_type is not None:
            # a pytest fixture handing out a helper: the function it returns
            handed = follow(Ref(f"{call.obj_type}()"), self.index.lookup(caller))
            if isinstance(handed, Ref):
                return wrappers.get(handed.qualname) or self._by_suffix(wrappers, handed.qualname)
            return None
        param = call.param
        if param is not None and param.name in ("self", "cls"):
            owner = call.function.rpartition(".")[0]
            return self._method_wrapper(owner, call.name, wrappers, caller)
        encoded = first.encoded
        if (
            type(encoded) is list
            and len(encoded) == 4
            and encoded[0] == "O"
            and type(encoded[1]) is str
            and self._method_wrapper(encoded[1], call.name, wrappers, caller) is None
        ):
            # a kept receiver's class read from its JSON form without decoding its
            # arguments: most calls invoke no helper, and decoding their receivers to learn
            # so was a sixth of polar's rerun after a request edit; the lookups are those
            # of the decoded receiver's class, and the answer none either way
            return None
        try:
            receiver = first.receiver_value()
        except (ValueError, TypeError, IndexError, KeyError):  # a damaged cache entry
            receiver = resolve_receiver(
                whole_call(facts.calls, call).receiver,
                self.index.lookup(caller),
                self._params_of(caller),
            )
        if receiver is not None:
            return self._method_wrapper(receiver.type, call.name, wrappers, caller)
        if param is not None:
            # `def load(self, fetcher): fetcher.fetch(path)`: a parameter named after the
            # one project class of that name (`Fetcher`) whose method is a helper
            named = [
                w
                for cls in self.index.classes_named(param.name)
                if (w := self._method_wrapper(cls, call.name, wrappers, caller)) is not None
            ]
            if len(named) == 1:
                return named[0]
        return None

    def _by_suffix(self, wrappers: dict[str, Wrapper], name: str) -> Wrapper | None:
        """:func:`_by_suffix`, over the helpers of ``name``'s last name only: either way of
        matching keeps the last name, and a tree's calls asked about every helper for each
        of their names (polar: 5% of a rerun). The helpers by last name are made again when
        a helper was added (helpers are only ever added, or replaced under their name)."""
        shorts = self._shorts
        if shorts is None or shorts[0] is not wrappers or shorts[1] != len(wrappers):
            by_short: dict[str, list[str]] = {}
            for qualname in wrappers:
                by_short.setdefault(qualname.rpartition(".")[2], []).append(qualname)
            shorts = self._shorts = (wrappers, len(wrappers), by_short)
        named = shorts[2].get(name.rpartition(".")[2])
        if not named:
            return None
        return _by_suffix({q: wrappers[q] for q in named}, name)

    def _of_class(self, function: str, classes: Sequence[str], caller: str | None) -> bool:
        """Whether ``function`` is a method of one of ``classes`` or of a project subclass."""
        lookup = self.index.lookup(caller)
        queue = [function.rpartition(".")[0]]
        seen: set[str] = set()
        while queue and len(seen) < 16:
            current = queue.pop(0)
            if current in classes:
                return True
            seen.add(current)
            bases = lookup(f"{current}.{BASES}")
            if isinstance(bases, Obj):
                queue += [
                    b.qualname for b in bases.args if isinstance(b, Ref) and b.qualname not in seen
                ]
        return False

    def _method_wrapper(
        self, cls: str, name: str, wrappers: dict[str, Wrapper], caller: str | None
    ) -> Wrapper | None:
        """The helper ``cls.name``, defined on the class or inherited from a base class of
        the project (``class AuthClient(BaseClient)`` calling ``self._post``).

        Looking invocations up level by level (``_methods`` set), the answer for the same
        class, name and caller is given again while the helpers are the same: the lookups
        it made are the same index's with the same keys, and what they record (the asks and
        the reads of ``app/demand.py``) are sets, with no file's resolution open to record
        them apart; the helpers are only added to between levels."""
        methods = self._methods
        if methods is not None and methods[0] is wrappers and methods[1] == len(wrappers):
            key = (cls, name, caller)
            if key in methods[2]:
                return methods[2][key]
            found = methods[2][key] = self._method_wrapper_uncached(cls, name, wrappers, caller)
            return found
        if methods is not None and methods[0] is wrappers:
            # helpers added since: the answers are made again
            self._methods = (wrappers, len(wrappers), {})
            return self._method_wrapper(cls, name, wrappers, caller)
        return self._method_wrapper_uncached(cls, name, wrappers, caller)

    def _method_wrapper_uncached(
        self, cls: str, name: str, wrappers: dict[str, Wrapper], caller: str | None
    ) -> Wrapper | None:
        lookup = self.index.lookup(caller)
        queue: list[str] = [cls]
        seen: set[str] = set()
        while queue and len(seen) < 16:
            current = queue.pop(0)
            seen.add(current)
            found = wrappers.get(f"{current}.{name}") or self._by_suffix(
                wrappers, f"{current}.{name}"
            )
            if found is not None:
                return found
            bases = lookup(f"{current}.{BASES}")
            if isinstance(bases, Obj):
                queue += [
                    b.qualname for b in bases.args if isinstance(b, Ref) and b.qualname not in seen
                ]
        return None

    # --- one site ----------------------------------------------------------------------------

    def _site(
        self,
        facts: FileFacts,
        call: RawCall,
        receiver: Obj | None,
        match: Match,
        via: str | None,
        *,
        path_helper: bool = False,
        used_object: Obj | None = None,
    ) -> tuple[CallSite, Wrapper | None]:
        """The call site of ``call``; ``path_helper`` when it is the use of a helper taking the
        path (``call`` bound to this use's arguments); ``used_object`` the object a helper's
        use calls the method on."""
        caller = self.index.service_of(facts.path) or UNKNOWN
        renderer = ValueRenderer(self.index, caller, call.function, facts.path, facts.module)
        renderer.requesting = self._requesting
        renderer.object = used_object
        url = self._combined(match, renderer)
        hosts = host_names(url.text)
        self._last_from_response = url.from_response and bool(hosts)
        self._last_runtime_host = bool(hosts) and (url.from_response or hosts[0] in url.runtime)
        grpc = match.protocol == "grpc"
        category = match.category or (
            Category.LOADGEN if facts.is_loadgen else self.categorize(facts.path)
        )
        evidence = list(dict.fromkeys(url.evidence))
        callee = UNKNOWN
        reason: str | None = None
        hint: str | None = None
        endpoint: Endpoint | None = None
        wrapper: Wrapper | None = None
        target = split_url(url.text, grpc=grpc)
        role = Role.CALL
        confidence = Confidence.EXACT
        if call.target_override:
            named = self.hosts.service_named(call.target_override)
            callee = named or call.target_override
            evidence.append(
                f"annotation `# decouple: target={call.target_override}` at {facts.path}:{call.line}"
            )
        elif match.service is not None:
            service_text = renderer.render(match.service)
            named = self.hosts.service_named(service_text.text)
            evidence.extend(service_text.evidence)
            if named is not None:
                callee = named
                evidence.append(f"service argument {service_text.text!r} -> service {named}")
            else:
                reason = f"service argument {service_text.text!r} names no known service"
                hint = f"declare it under [tool.decouple.services.{service_text.text}]"
        elif target.dynamic_host and _host_has_param(url) and not _stub_on_passed_channel(receiver):
            # A gRPC stub's type names the service and the RPC, so a stub on a channel object
            # the caller passes in is still a call site; only the address is the caller's.
            # A helper that builds the channel from an address parameter is a wrapper.
            role = Role.WRAPPER
            helper = _helper_of(call.function, match)
            fn = self.index.function(helper, caller)
            params = fn.params if fn else ()
            reason = (
                f"host comes from parameter(s) {', '.join(sorted(set(url.params)))} of {helper}"
            )
            hint = "each call of this helper is reported as its own call site"
            wrapper = Wrapper(helper, params, bool(fn and fn.is_method), call, receiver, match)
        else:
            front = self._own_front(url.text, target, caller)
            if front is not None:
                evidence.append(
                    f"the host of the request {caller} is handling is {front}, the gateway "
                    f"in front of it"
                )
                target = Target(front, None, target.path)
            found = self.hosts.callee(target, facts.path)
            if found.reason is not None and found.reason.endswith(LEARNT_AT_RUN_TIME):
                # a host the running program learns (a discovered pod, a backend its router
                # picks) says so; one read from an answer or an unset variable says why
                if url.from_response:
                    found = replace(found, reason="the host is read from another service's answer")
                elif url.unknown is not None:
                    found = replace(found, reason=None)
            callee = found.name
            if found.path is not None:
                # a gateway in between: the callee receives the forwarded path
                target = replace(target, path=found.path)
            if found.evidence:
                evidence.append(found.evidence)
            inferred = (
                # the function writing the request: the helper's, for one of its uses
                self._infer(match, url, via or call.function) if callee == UNKNOWN else None
            )
            if callee.startswith(EXTERNAL_PREFIX):
                inferred = _stood_in_for(callee, url, via) or self._bare_host(target.host)
            if inferred is None and callee == UNKNOWN and target.host is None and not grpc:
                inferred = self._by_route(match.method, target.path, facts.path, category)
            if inferred is None and callee == UNKNOWN and match.collector is not None:
                # a span collector run beside the services (by a test, on its default port)
                names = [*host_names(url.text), match.url_src]
                names += [e.partition(" <- ")[0] for e in reversed(url.evidence) if " <- " in e]
                inferred = by_collector(match.collector, names)
            if inferred is not None:
                callee, confidence = inferred.callee, Confidence.INFERRED
                why = found.reason or url.unknown
                evidence.append(f"{inferred.reason} ({why})" if why else inferred.reason)
            answered = (
                self._hyperlink_callee(facts, call, match.url, depth=0)
                if callee == UNKNOWN and not grpc
                else None
            )
            if answered is not None:
                callee, confidence = answered.callee, Confidence.INFERRED
                evidence.append(answered.reason)
            if callee == UNKNOWN:
                reason = url.unknown or found.reason
                hint = url.hint or (
                    f"add `# decouple: target=<service>` on the line above {facts.path}:{call.line}"
                )
            elif (
                url.defaulted
                and not self.index.is_test(facts.path)
                and not _stub_on_passed_channel(receiver)
                and self._of_class(call.function, url.defaulted, caller)
            ):
                # `self.url` holding the constructor's default: whoever builds the object
                # may give another, so the method's uses on objects are the call sites (a
                # test class's requests are its tests' own)
                role = Role.WRAPPER
                wrapper = self._helper(
                    call.function, call, receiver, match, caller, by_default=True
                )
        if (
            role is Role.CALL
            and (callee != UNKNOWN or url.built_with)
            and _whole_path_is_param(match.url)
            and (
                # a parameter handed on as the path a path helper takes
                path_helper
                or _rendered_path_is_param(renderer.render(match.url))
                or _path_param_named_so(match.url)
            )
        ):
            # The whole path is a run-time value: only a parameter standing for the path
            # (`get(path)`), not one filling a segment of it (`/users/{user_id}`), makes a
            # helper whose uses name the endpoint.
            helper = _helper_of(call.function, match)
            if any(p.function == helper for p in _params(match.url)):
                # `UserService.get(path)`: the host is the class's, the endpoint the caller's
                role = Role.WRAPPER
                wrapper = self._helper(helper, call, receiver, match, caller, path_only=True)
        if callee != UNKNOWN and not callee.startswith(EXTERNAL_PREFIX):
            endpoint = self._endpoint(callee, match, target.path, grpc)
        checking = match.client in self._checking
        if self._memo is not None:
            self._memo.checked(match.client)
        site = CallSite(
            id="",
            caller=caller,
            file=facts.path,
            line=call.line,
            end_line=call.end_line,
            function=call.function,
            client=match.client,
            method=match.method,
            url=match.url_src,
            url_template=redact_url(url.text) if url.text else None,
            callee=callee,
            endpoint=endpoint.label if endpoint else None,
            evidence=tuple(evidence),
            category=category,
            role=role,
            via_wrapper=via,
            # an exporter's answer is read by the library sending in the background
            result_used=not match.background and (call.result_used or checking),
            response_use=ResponseUse.NONE
            if match.background
            else ResponseUse(_invocation_use(call.response_use, checking)),
            is_async=call.is_async or match.is_async,
            in_loop=call.in_loop,
            has_timeout=match.has_timeout,
            in_handler=call.function in self.handlers,
            streaming=match.streaming or self._streaming_rpc(match),
            in_transaction=call.in_transaction,
            payload=match.payload,
            unknown_reason=reason if callee == UNKNOWN else None,
            fix_hint=hint if callee == UNKNOWN else None,
            confidence=confidence,
            suppressed=_suppressed_at(facts, call.line, call.end_line),
            one_of=(
                f"{url.one_of[0][0]}{_PLACEHOLDER_SEP}{url.one_of[0][1]}"
                if url.one_of and role is Role.CALL and callee == UNKNOWN and not grpc
                else None
            ),
        )
        return site, wrapper

    def _fanned_out(self, site: CallSite) -> list[CallSite]:
        """A site whose host is a mapping's value read with a key known only at run time
        (``SERVICES[name] + "/" + path``): one site per value when every value the mapping
        holds as text is the address of a service of the deployment, each with its own url,
        callee and endpoint and with ``one_of`` naming the mapping; the site as it was (its
        callee unknown) when any value is not. Values the mapping holds in another form (a
        nested dict) are no address and are left out."""
        if site.one_of is None:
            return [site]
        table, _, placeholder = site.one_of.partition(_PLACEHOLDER_SEP)
        site = replace(site, one_of=None)
        template = site.url_template or ""
        if not placeholder or placeholder not in template:
            return [site]
        keys = self.index.constant(f"{table}{ANY_KEY}", site.caller)
        if keys is None or not isinstance(keys[1].value, Obj):
            return [site]
        renderer = ValueRenderer(self.index, site.caller, site.function, site.file)
        short = ".".join(table.rsplit(".", 2)[-2:])
        targets: list[CallSite] = []
        values = [k.text for k in keys[1].value.args if isinstance(k, Lit)]
        for key in values:
            found = self.index.constant(f"{table}[{key}]", site.caller)
            if found is None:
                continue  # a value that is no text (a nested mapping): not an address
            value = renderer.render(Ref(f"{table}[{key}]"))
            url = template.replace(placeholder, value.text, 1)
            target = split_url(url)
            if value.unknown is not None or target.host is None or target.dynamic_host:
                return [site]
            reached = self.hosts.callee(target, site.file)
            callee, confidence, evidence = reached.name, Confidence.EXACT, reached.evidence
            if callee == UNKNOWN or callee.startswith(EXTERNAL_PREFIX):
                # a host with no domain is a name inside the deployment's network
                inferred = self._bare_host(target.host)
                if inferred is None:
                    return [site]
                callee, confidence = inferred.callee, Confidence.INFERRED
                evidence = inferred.reason
            if callee.startswith(EXTERNAL_PREFIX) or callee == UNKNOWN:
                return [site]
            path = reached.path if reached.path is not None else target.path
            endpoint = self._endpoint_of_path(callee, site.method, path)
            targets.append(
                replace(
                    site,
                    url_template=redact_url(url),
                    callee=callee,
                    confidence=confidence,
                    endpoint=endpoint.label if endpoint else None,
                    evidence=(
                        *site.evidence,
                        *value.evidence,
                        *((evidence,) if evidence else ()),
                        f"one of {len(values)} targets of {short} (key {key!r}), chosen at run time",
                    ),
                    unknown_reason=None,
                    fix_hint=None,
                    one_of=table,
                )
            )
        return targets or [site]

    def _endpoint_of_path(self, callee: str, method: str | None, path: str) -> Endpoint | None:
        key = (callee, method, path or "/")
        if key not in self._endpoint_for:
            http = self._http_for(callee, path or "/")
            self._endpoint_for[key] = (
                self.match_endpoint(method, path or "/", http) if http else None
            )
        return self._endpoint_for[key]

    def _own_front(self, url: str, target: Target, caller: str) -> str | None:
        """``f"{request.scheme}://{request.get_host()}/graphql"``: a url on the host the
        service's own request came in on is the gateway in front of the service, when one
        gateway forwards to it."""
        if not target.dynamic_host or _OWN_HOST().match(url) is None:
            return None
        return self.hosts.front_of(caller)

    def _helper(
        self,
        helper: str,
        call: RawCall,
        receiver: Obj | None,
        match: Match,
        caller: str,
        *,
        path_only: bool = False,
        by_default: bool = False,
    ) -> Wrapper:
        fn = self.index.function(helper, caller)
        return Wrapper(
            helper,
            fn.params if fn else (),
            bool(fn and fn.is_method),
            call,
            receiver,
            match,
            path_only=path_only,
            by_default=by_default,
        )

    def _hyperlink_callee(
        self, facts: FileFacts, call: RawCall, url: Value, depth: int
    ) -> Inferred | None:
        """A url read from another request's answer, from a field named for a link
        (``project["mappings_url"]``, ``page["next"]``, ``item["url"]``): a REST API's
        hyperlink, which points back at the service that gave it."""
        answer = url.parts[0] if isinstance(url, Concat) and url.parts else url
        if not (isinstance(answer, Obj) and answer.type == ANSWER and answer.args):
            return None
        field = answer.kwarg("field")
        request = answer.args[0]
        if not (isinstance(field, Lit) and _is_link_field(field.text) and isinstance(request, Obj)):
            return None
        if depth >= _MAX_LINKS or "()" in request.type or "." not in request.type:
            return None
        asked = replace(
            call,
            func=request.type,
            name=request.type.rpartition(".")[2],
            receiver=None,
            args=request.args,
            kwargs=request.kwargs,
            arg_src=(),
            kwarg_src=(),
            target_override=None,
        )
        match = self._match(asked, None, self.index.service_of(facts.path))
        if match is None:
            return None
        callee = self._hyperlink_callee(facts, asked, match.url, depth + 1)
        if callee is None:
            before = self._last_from_response
            site, _ = self._site(facts, asked, None, match, via=None)
            self._last_from_response = before
            if site.role is not Role.CALL or site.callee == UNKNOWN:
                return None
            callee = Inferred(site.callee, "")
        return Inferred(
            callee.callee,
            f"{field.text!r} is a link read from an answer of {callee.callee} "
            f"({request.type.rpartition('.')[2]} in {call.function})",
        )

    def _infer(self, match: Match, url: Rendered, function: str | None = None) -> Inferred | None:
        """A callee for a call whose host is not in the repository: the one service serving
        its gRPC stub, or the one service its variable, setting or stub is named after;
        ``function`` makes the call (its class may name the API vendor)."""
        names = host_names(url.text) or ([match.url_src] if match.url_src else [])
        # then the names the value was followed through, nearest the host first:
        # `KERNEL_URL <- ...`, `get_kernel_url() <- ...`
        names += [e.partition(" <- ")[0] for e in reversed(url.evidence) if " <- " in e]
        if match.grpc_stub is not None:
            served = self.inference.by_grpc_server(match.grpc_stub)
            if served is not None:
                return served
            names.append(match.grpc_stub.rpartition(".")[2])
        whole = url.text.strip() == "{" + (host_names(url.text) or [""])[0] + "}"
        return (
            self.inference.by_name(names)
            or self.inference.by_env_value(
                names,
                self.index.env_everywhere,
                lambda value: self.hosts.callee(split_url(value)).name,
            )
            or by_webhook_vendor(names, whole)
            or (by_api_vendor(names, function) if not match.grpc_stub else None)
            or by_presigned_url(names, self.hosts.infra, self.hosts.names)
        )

    def _bare_host(self, host: str | None) -> Inferred | None:
        """A host with no domain (``users``) resolves only inside the deployment's network:
        the one service whose name fits it (``user_service``, ``users-api``), not the
        internet."""
        if not host or "." in host or ":" in host or host in _LOOPBACK_NAMES:
            return None
        wanted = name_words(host)
        if not wanted:
            return None
        # the same words, not some of them: `ledger-archive` is not `ledger`
        fits = [s for s, names in self.inference.names.items() if wanted in names]
        if len(fits) != 1:
            return None
        return Inferred(
            fits[0],
            f"host {host} has no domain: a name inside the deployment's network, "
            f"the one service named with the same words ({fits[0]})",
        )

    def _by_route(
        self, method: str | None, path: str, file: str, category: Category
    ) -> Inferred | None:
        """A relative url with no base in the code (a load test given ``--host`` on the
        command line): the one service with a route for it, when its path has a fixed
        segment and another service's catch-all does not also match. A service's own
        production code asking a host it learns at run time for a path it serves itself is
        a proxy handing the request on, not a call of itself: no inference then."""
        fixed = [p for p in path.split("?")[0].split("/") if p and "{" not in p]
        if not fixed:
            return None
        found = self._routed(method, path)
        if len(found) != 1:
            return None
        if category is Category.PRODUCTION and found[0] == self.index.service_of(file):
            return None
        return Inferred(found[0], f"only {found[0]} has a route for {method or '*'} {path}")

    def _routed(self, method: str | None, path: str) -> tuple[str, ...]:
        """The services with a production route for ``method path``. A load test asks the
        same few paths thousands of times, and a large app has thousands of routes: the
        answer is kept per path."""
        key = (method, path)
        if key not in self._routes_for:
            if self._routable is None:
                self._routable = {}
                for service, endpoints in self.endpoints_by_service.items():
                    lengths = self._routable[service] = {}
                    for e in endpoints:
                        if e.protocol == "http" and self.categorize(e.file) is Category.PRODUCTION:
                            lengths.setdefault(template_length(e), []).append(e)
            # only a template of the path's length can match it: the others are not offered
            length = path_length(path)
            found = []
            for service, by_length in self._routable.items():
                http = by_length.get(length, [])
                hit = self.match_endpoint(method, path, http) if http else None
                if hit is not None and hit.path.strip("/"):
                    found.append(service)
            self._routes_for[key] = tuple(found)
        return self._routes_for[key]

    def _combined(self, match: Match, renderer: ValueRenderer) -> Rendered:
        url = renderer.render(match.url)
        if match.base is None:
            return url
        if "://" in url.text or url.text.startswith("//"):
            return url
        base_value = match.base
        if match.protocol == "grpc" and isinstance(base_value, Ref):
            # a channel made elsewhere (a module global): its target is what matters
            channel = follow(base_value, self.index.lookup(renderer.service))
            base_value = channel_target(channel) or base_value
        base = renderer.render(base_value)
        text = base.text
        if url.text:
            text = text.rstrip("/") + "/" + url.text.lstrip("/")
        return Rendered(
            text,
            evidence=base.evidence + url.evidence,
            unknown=base.unknown or url.unknown,
            hint=base.hint or url.hint,
            params=base.params + url.params,
            built_with=base.built_with + url.built_with,
            defaulted=base.defaulted + url.defaulted,
            from_response=base.from_response or url.from_response,
            runtime=base.runtime + url.runtime,
        )

    def _streaming_rpc(self, match: Match) -> bool:
        """A call of a gRPC method its stub binds as a stream (server, client or both
        streaming): one event carries one request and no reply to read."""
        stub, name = match.grpc_stub, match.method
        if stub is None or name is None:
            return False
        method = self.index.grpc_methods.get((stub, name))
        if method is not None:
            return method.kind != "unary_unary"
        # the generated module imported under another name (a copy in the caller's
        # tree, a package root): the stub's class decides, when every one agrees
        kinds = {
            g.kind
            for (owner, bound), g in self.index.grpc_methods.items()
            if bound == name and owner.rpartition(".")[2] == stub.rpartition(".")[2]
        }
        return bool(kinds) and "unary_unary" not in kinds

    def _endpoint(self, callee: str, match: Match, path: str, grpc: bool) -> Endpoint | None:
        candidates = self.endpoints_by_service.get(callee, [])
        if not candidates:
            return None
        if grpc:
            stub = match.grpc_stub
            if stub is None or match.method is None:
                return None
            method = self.index.grpc_methods.get((stub, match.method))
            rpc_path = method.path if method else None
            for endpoint in candidates:
                if endpoint.protocol == "grpc" and (
                    endpoint.path == rpc_path
                    or (rpc_path is None and endpoint.path.endswith("/" + match.method))
                ):
                    return endpoint
            return None
        key = (callee, match.method, path or "/")
        if key not in self._endpoint_for:
            http = self._http_for(callee, path or "/")
            self._endpoint_for[key] = (
                self.match_endpoint(match.method, path or "/", http) if http else None
            )
        return self._endpoint_for[key]

    # --- wrappers ----------------------------------------------------------------------------

    def _invocation(
        self, facts: FileFacts, call: RawCall, wrapper: Wrapper, used: Obj | None = None
    ) -> tuple[CallSite | None, Wrapper | None]:
        if call.patched and (
            _replaced(call.patched, wrapper, facts.module)
            or self._through_mock(call.patched, wrapper, facts)
        ):
            # the test replaces the helper (or one it calls, or the object's client the
            # request is made on) with a mock: nothing is sent
            return None, None
        params = wrapper.params[1:] if wrapper.is_method else wrapper.params
        binding: dict[str, Value] = {}
        sources: dict[str, str] = {}
        for name, value, src in zip(params, call.args, call.arg_src, strict=False):
            binding[name] = value
            sources[name] = src
        for (key, value), (_, src) in zip(call.kwargs, call.kwarg_src, strict=False):
            if key in params:
                binding[key] = value
                sources[key] = src
        passed_on = any(k == "**" for k, _ in call.kwargs) or any(
            isinstance(a, Dyn) and a.text.startswith("*") for a in call.args
        )
        if not passed_on:
            # `send(message=m)` of `def send(webhook=settings.HOOK_URL, message="")`: the
            # parameter left out holds its default
            fn = self.index.function(wrapper.qualname, self.index.service_of(facts.path))
            for name, value in fn.defaults if fn is not None else ():
                binding.setdefault(name, value)
        inner = wrapper.call
        bound = replace(
            inner,
            args=tuple(substitute(a, wrapper.qualname, binding) for a in inner.args),
            kwargs=tuple((k, substitute(v, wrapper.qualname, binding)) for k, v in inner.kwargs),
            arg_src=tuple(_substitute_src(s, sources) for s in inner.arg_src),
            kwarg_src=tuple((k, _substitute_src(s, sources)) for k, s in inner.kwarg_src),
            line=call.line,
            end_line=call.end_line,
            col=call.col,
            function=call.function,
            result_used=call.result_used or inner.status_checked,
            response_use=_invocation_use(call.response_use, inner.status_checked),
            in_loop=call.in_loop,
            in_transaction=call.in_transaction,
            is_async=call.is_async or inner.is_async,
            target_override=call.target_override or inner.target_override,
        )
        receiver = wrapper.receiver
        if receiver is not None:
            # a gRPC helper's stub is built on a channel to an address parameter
            bound_receiver = substitute(receiver, wrapper.qualname, binding)
            receiver = bound_receiver if isinstance(bound_receiver, Obj) else receiver
        if inner.name == CALL_PARAM and isinstance(inner.receiver, Param):
            handed = binding.get(inner.receiver.name)
            if not isinstance(handed, Ref):
                return None, None
            bound, receiver = self._handed(bound, handed, facts)
        match = self._match(bound, receiver, self.index.service_of(facts.path))
        if match is None:
            return None, None
        site, nested = self._site(
            facts,
            bound,
            receiver,
            match,
            via=wrapper.qualname,
            path_helper=wrapper.path_only,
            used_object=used if wrapper.by_default else None,
        )
        if nested is not None:
            nested = replace(nested, call=bound, inner=(wrapper.qualname, *wrapper.inner))
        return site, nested

    def _used_object(self, call: RawCall, outcome: CallOutcome) -> Obj | None:
        """The object a method is called on (not ``self``: the enclosing object's own
        constructor arguments are those of whoever builds it)."""
        if isinstance(call.receiver, Param) or call.handed_in:
            return None  # `self`, or an object handed in by whoever calls
        try:
            return outcome.receiver_value()
        except (ValueError, TypeError, IndexError, KeyError):  # a damaged cache entry
            return None

    def _through_mock(self, patched: Sequence[str], wrapper: Wrapper, facts: FileFacts) -> bool:
        """Whether the helper's request is made on an attribute the test set to a mock
        (``requester._session = Mock()`` with the request on ``self.session``, a property
        returning ``self._session``)."""
        value = wrapper.call.receiver
        lookup = self.index.lookup(self.index.service_of(facts.path))
        names: set[str] = set()
        for _ in range(8):
            if not isinstance(value, Ref) or value.qualname in names:
                break
            names.add(value.qualname.removesuffix("()"))
            found = lookup(value.qualname)
            value = found if found is not None else None
        return any(t in names for t in patched)

    def _handed(self, call: RawCall, function: Ref, facts: FileFacts) -> tuple[RawCall, Obj | None]:
        """``method(url)`` once ``method`` is bound: ``requests.post(url)`` for a library
        function, ``session.post(url)`` for a method of a client object."""
        prefix, _, name = function.qualname.rpartition(".")
        if prefix.split(".", 1)[0] in self._client_modules:
            return replace(call, func=function.qualname, name=name, receiver=None), None
        caller = self.index.service_of(facts.path)
        owner = resolve_receiver(Ref(prefix), self.index.lookup(caller), self._params_of(caller))
        return replace(call, func=None, name=name, receiver=Ref(prefix)), owner

    # --- ids ---------------------------------------------------------------------------------

    def _assign_ids(self, drafts: list[tuple[FileFacts, CallSite]]) -> list[CallSite]:
        drafts.sort(key=lambda pair: (pair[1].file, pair[1].line, pair[1].end_line, pair[1].client))
        seen: dict[tuple[str, ...], int] = defaultdict(int)
        sites: list[CallSite] = []
        for _, site in drafts:
            url_key = site.url_template or site.url
            key = (
                site.caller,
                site.file,
                site.function,
                site.client,
                site.method or "",
                url_key,
                site.via_wrapper or "",
            )
            nth = seen[key]
            seen[key] += 1
            ident = call_site_id(
                site.caller,
                site.file,
                site.function,
                site.client,
                site.method,
                url_key + (site.via_wrapper or ""),
                nth,
            )
            sites.append(_with_id(site, ident))
        return sites


#: A call site's fields after its id, read in one call (see :func:`_with_id`).
_AFTER_ID = operator.attrgetter(*(f.name for f in fields(CallSite)[1:]))


def _with_id(site: CallSite, ident: str) -> CallSite:
    """``replace(site, id=ident)``: the site made again with its other fields' values,
    without ``dataclasses.replace``'s walk of the fields and call by keywords (every site
    of a scan is given its id this way: a tenth of a rerun's resolution, polar)."""
    return CallSite(ident, *_AFTER_ID(site))


def _may_invoke(call: RawCall | CallHead, added: set[str]) -> bool:
    """Whether ``CallResolver._wrapper_for`` may find for ``call`` one of helpers whose last
    names are ``added``, having found none before they were: a helper it finds has the last
    name of the function the call names (``call.func``, or its class's ``__init__``), else
    of the method called (on ``self``, on its receiver's class or a base of it, on the
    class a parameter is named after); a pytest fixture's helper is the function the
    fixture returns, whose name the call does not say."""
    if call.func is not None:
        return call.func.rpartition(".")[2] in added or "__init__" in added
    if call.name == CALL_PARAM and call.obj_type is not None:
        return True
    return call.name in added


def _handed_names(
    qualname: str,
    drafts: Sequence[tuple[FileFacts, CallSite]],
    uses_of: dict[str, list[int]],
    handing: dict[int, bool],
    nested_in: dict[int, str],
    seen: set[str],
) -> list[str]:
    """The names a helper's uses give the address they hand it, nearest first, then those
    given to the helpers handing it on (``_add_engine(engine_ip)`` calling
    ``_models(pod_ip)``): what the code calls the host where it learns it."""
    names = [
        n for i in uses_of.get(qualname, ()) for n in host_names(drafts[i][1].url_template or "")
    ]
    for i in uses_of.get(qualname, ()):
        outer = nested_in.get(i)
        if handing.get(i) is False and outer is not None and outer not in seen:
            seen.add(outer)
            names += _handed_names(outer, drafts, uses_of, handing, nested_in, seen)
    return list(dict.fromkeys(names))


#: A url whose host is the one the handled request was sent to: Django's
#: ``request.get_host()``, Flask's ``request.host``, Starlette's ``request.url.netloc``.
_OWN_HOST = lazy_pattern(
    r"(?:(?:https?|\{[\w.]*\bscheme\})://)?"
    r"\{(?:request|req)\.(?:get_host\(\)|host|url\.netloc|url\.hostname)\}"
)


def _path_of(site: CallSite) -> str:
    """The path a site reaches, as far as it is known: a helper's use with the path its
    request has inside the helper hands on an address and nothing else."""
    return split_url(site.url_template or "").path


#: How many answers a link is followed back through.
_MAX_LINKS = 4
#: Field names of links in a REST answer: ``url``, ``*_url``, ``href``, ``next``...
_LINK_FIELD = lazy_pattern(r"(?:.*_)?(?:url|uri|href|link)|next|previous|self", re.IGNORECASE)


def _is_link_field(name: str) -> bool:
    return bool(_LINK_FIELD().fullmatch(name))


def _by_file(
    pending: Sequence[tuple[FileFacts, RawCall | CallHead, CallOutcome]],
) -> Iterator[tuple[FileFacts, list[tuple[RawCall | CallHead, CallOutcome]]]]:
    """``pending`` (in file order) as runs of one file's calls."""
    group: list[tuple[RawCall | CallHead, CallOutcome]] = []
    current: FileFacts | None = None
    for facts, call, outcome in pending:
        if facts is not current:
            if current is not None:
                yield current, group
            current, group = facts, []
        group.append((call, outcome))
    if current is not None:
        yield current, group


def _replaced(targets: Sequence[str], wrapper: Wrapper, module: str) -> bool:
    """Whether ``mock.patch`` of one of ``targets`` replaces the helper used in ``module``
    (where it is defined, or the name ``module`` imported it under) or a helper it calls.
    Replacing only the library function underneath (``requests.get``) is not enough: the
    helper still runs, and the use stays a call site."""
    names = (wrapper.qualname, *wrapper.inner, f"{module}.{wrapper.short_name}")
    # a target may name the module with more package in front than the scan does
    # (`tests.test_sync.fetch` for a `tests/` folder without `__init__.py`)
    if any(t == name or t.endswith("." + name) for t in targets for name in names):
        return True
    # `request.app.state.http = MagicMock(...)` before the use: the helper's request goes
    # through that attribute (`request.app.state.http().post(...)`), now a mock
    receiver = _receiver_text(wrapper.call.receiver)
    return any(
        t.startswith(".") and re.search(re.escape(t) + r"(?![\w])", receiver) is not None
        for t in targets
    )


def _receiver_text(value: Value | None) -> str:
    if isinstance(value, Obj):
        return value.type
    if isinstance(value, Ref):
        return value.qualname
    return ""


def _suppressed_at(facts: FileFacts, line: int, end_line: int) -> tuple[str, ...]:
    """Rule codes of ``# decouple: ignore[...]`` on the line above the call or on its lines."""
    if not facts.suppressions:
        return ()
    codes: set[str] = set()
    for number, named in facts.suppressions:
        if line - 1 <= number <= end_line:
            codes.update(named)
    return tuple(sorted(codes))


def _whole_path_is_param(url: Value) -> bool:
    """``client.get(path)``, ``cls.BASE + path``, ``f"{self.base}/{path}"``: a parameter
    right after the base, standing for the whole path; not ``f"{base}/users/{user_id}"``."""
    if isinstance(url, Param):
        return True
    if isinstance(url, Join):
        # `urljoin(self.url, method)`: the base is the client's; the joined part is the path
        return isinstance(url.url, Param)
    if not isinstance(url, Concat):
        return False
    for part in url.parts:
        if isinstance(part, Param):
            return True
        if isinstance(part, Lit):
            text = (
                part.text.split("://", 1)[1].partition("/")[2] if "://" in part.text else part.text
            )
            if text.strip("/"):
                return False
    return False


def _rendered_path_is_param(url: Rendered) -> bool:
    """The url argument, rendered, has a parameter for its whole path: not
    ``f"{CASTS_URL}{cast_id}"`` where the variable's value (``http://cast:8000/api/casts/``)
    fixes the path and the parameter fills its last segment. A client's ``base_url`` is
    not part of the argument."""
    text = url.text.split("://", 1)[1] if "://" in url.text else url.text
    host = host_part(text)
    path = text[len(host) :].lstrip("/")
    # an API's version prefix is part of its base: `https://api.example.com/v3/{path}`
    while path and _API_PREFIX().match(path):
        path = path.partition("/")[2]
    return not path or any(path.startswith("{" + p + "}") for p in url.params)


def _path_param_named_so(url: Value) -> bool:
    """The parameter standing right after the base is named for a path (``url``, ``path``,
    ``endpoint``, ``api_path``...): ``f"{KERNEL_URL}/{url}"`` takes the caller's path even
    when the base's value holds a prefix of its own (``http://kernel:8100/kernel``), where
    ``f"{CASTS_URL}{cast_id}"`` only fills its last segment."""
    if isinstance(url, Join):
        url = url.url
    parts = url.parts if isinstance(url, Concat) else (url,)
    first = next((p for p in parts if isinstance(p, Param)), None)
    if first is None:
        return False
    words = [w for w in first.name.lower().split("_") if w]
    return bool(words) and words[-1] in _PATH_WORDS


#: Last words of parameter names that stand for a whole path, not a segment of one.
_PATH_WORDS = frozenset({"url", "uri", "path", "endpoint", "route"})


#: Path segments that say which API, not which resource: ``api/``, ``v3/``, ``rest/``.
_API_PREFIX = lazy_pattern(r"(?:api|rest|v?\d+(?:\.\d+)?)/", re.IGNORECASE)


def _by_suffix(wrappers: dict[str, Wrapper], name: str) -> Wrapper | None:
    """The one helper whose qualified name ends with ``name`` (a module imported without
    its package prefix, or a base class named through such an import), or else is the end
    of ``name`` (a folder without ``__init__.py``: ``src/clients/base.py`` is module
    ``clients.base`` to the scan, ``src.clients.base`` to code importing it)."""
    tail = "." + name
    matches = [w for q, w in wrappers.items() if q.endswith(tail)]
    if not matches:
        matches = [w for q, w in wrappers.items() if name.endswith("." + q)]
    return matches[0] if len(matches) == 1 else None


def _built_where_used(
    wrappers: dict[str, Wrapper],
    uses_of: dict[str, list[int]],
    drafts: list[tuple[FileFacts, CallSite]],
    nested_in: dict[int, str],
) -> set[str]:
    """The helpers reading their class's constructor default that are called on an object
    somewhere: a use that is a call site, or one inside a helper that is not such a helper
    (``def f(url): DMSClient(url).merge(...)``) or is one of these."""
    live: set[str] = set()
    grown = True
    while grown:
        grown = False
        for qualname, wrapper in wrappers.items():
            if not wrapper.by_default or qualname in live:
                continue
            for index in uses_of.get(qualname, ()):
                outer = nested_in.get(index)
                if drafts[index][1].role is Role.CALL or (
                    outer is not None
                    and outer in wrappers
                    and (not wrappers[outer].by_default or outer in live)
                ):
                    live.add(qualname)
                    grown = True
                    break
    return live


#: Names of the machine itself: never another service by their words.
_LOOPBACK_NAMES = frozenset({"localhost", "host.docker.internal"})


def _on_self(call: RawCall) -> bool:
    return isinstance(call.receiver, Param) and call.receiver.name in ("self", "cls")


def _stub_on_passed_channel(receiver: Obj | None) -> bool:
    return (
        receiver is not None
        and receiver.type.endswith("Stub")
        and isinstance(receiver.arg(0, "channel"), Param)
    )


#: Names of the link to a paginated answer's next page: ``next``, ``next_page``, ``nextUrl``.
_NEXT_PAGE = re.compile(
    r"\{?(?:\w+\[[\"'])?next(?:[_-]?(?:page|url|link|uri))?(?:[\"']\])?\}?", re.I
)


def _next_pages(drafts: list[tuple[FileFacts, CallSite]]) -> list[tuple[FileFacts, CallSite]]:
    """``response = api.make_request(next_page)`` with ``next_page = response["next"]``: the
    next page of a paginated answer is on the host that gave the first one. A helper use
    whose url is named for the next page goes to the one service every other use of the
    helper outside tests reaches."""
    reached: dict[str, set[str]] = defaultdict(set)
    for _, site in drafts:
        if (
            site.via_wrapper
            and site.role is Role.CALL
            and site.category is not Category.TEST
            and not _NEXT_PAGE.fullmatch(site.url)
        ):
            reached[site.via_wrapper].add(site.callee)
    out: list[tuple[FileFacts, CallSite]] = []
    for facts, site in drafts:
        callees = reached.get(site.via_wrapper or "", set())
        if (
            site.callee == UNKNOWN
            and site.role is Role.CALL
            and _NEXT_PAGE.fullmatch(site.url)
            and len(callees) == 1
            and not next(iter(callees)).startswith(EXTERNAL_PREFIX)
            and UNKNOWN not in callees
        ):
            (callee,) = callees
            why = (
                f"{site.url} is the next page of an answer of {callee}: every other use of "
                f"{site.via_wrapper} outside tests reaches {callee}"
            )
            site = _inferred(site, callee, why, site.endpoint)
        out.append((facts, site))
    return out


def _inferred(site: CallSite, callee: str, why: str, endpoint: str | None) -> CallSite:
    """The site with a callee inferred for the reason ``why``."""
    return replace(
        site,
        callee=callee,
        endpoint=endpoint,
        confidence=Confidence.INFERRED,
        evidence=(*site.evidence, why),
        unknown_reason=None,
        fix_hint=None,
    )


#: ``SLACK_URL (not set in deployment files) default in code: http://...``
_CODE_DEFAULT = " (not set in deployment files) default in code: "


def _stood_in_for(callee: str, url: Rendered, helper: str | None) -> Inferred | None:
    """A vendor's webhook whose only value is a default in code on another host
    (``os.environ.get("SLACK_WEBHOOK_URL", "http://testslackwebhook.com/hook")``): the
    default stands in for the url the deployment sets, which is on the vendor's host. The
    variable, or the helper it is handed to (``send_slack_notification(webhook=...)``),
    names the vendor."""
    for item in url.evidence:
        name, found, default = item.partition(_CODE_DEFAULT)
        if not found:
            continue
        names = [name, *(e.partition(" <- ")[0] for e in reversed(url.evidence) if " <- " in e)]
        names += [helper] if helper else []
        vendor = by_webhook_vendor(names, whole_url=url.text.strip() == default.strip())
        if vendor is not None and vendor.callee != callee:
            host = callee.removeprefix(EXTERNAL_PREFIX)
            return Inferred(
                vendor.callee, f"{vendor.reason}; the default in code ({host}) stands in"
            )
    return None


def _helper_of(function: str, match: Match) -> str:
    """The function whose parameters decide the host: ``function`` itself, or the enclosing
    factory whose parameters a closure reads (``def route(service_url): def wrapper(f):
    async def inner(): await request(f"{service_url}{path}")``); its calls are then the
    call sites, decorator calls included."""
    owners = {p.function for value in (match.url, match.base) for p in _params(value)}
    owners.discard(function)
    if len(owners) == 1:
        (owner,) = owners
        if function.startswith(owner + "."):
            return owner
    return function


def _params(value: Value | None) -> list[Param]:
    if isinstance(value, Param):
        return [value]
    if isinstance(value, Concat):
        return [p for part in value.parts for p in _params(part)]
    if isinstance(value, Join):
        return _params(value.base) + _params(value.url)
    if isinstance(value, Env):
        return _params(value.name) + _params(value.default)
    if isinstance(value, Obj):
        return [p for a in (*value.args, *(v for _, v in value.kwargs)) for p in _params(a)]
    return []


def _substitute_src(text: str, sources: dict[str, str]) -> str:
    """``text`` with each parameter name replaced by the argument's source. Only names are
    replaced: not words inside strings (``{"data": data}``), attributes or keyword names."""
    if not sources:
        return text
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out: list[str] = []
    pos = 0
    significant = [t for t in tokens if t.type not in _LAYOUT_TOKENS]
    for i, tok in enumerate(significant):
        if tok.type == tokenize.STRING and _is_fstring(tok.string):
            begin = starts[tok.start[0] - 1] + tok.start[1]
            end = starts[tok.end[0] - 1] + tok.end[1]
            out.append(text[pos:begin])
            out.append(_FIELD_NAME().sub(lambda m: _in_fields(m, sources), tok.string))
            pos = end
            continue
        if tok.type != tokenize.NAME or tok.string not in sources:
            continue
        before = significant[i - 1].string if i > 0 else ""
        after = significant[i + 1].string if i + 1 < len(significant) else ""
        if before == "." or (after == "=" and before in ("(", ",")):
            continue
        begin = starts[tok.start[0] - 1] + tok.start[1]
        end = starts[tok.end[0] - 1] + tok.end[1]
        out.append(text[pos:begin])
        out.append(sources[tok.string])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _is_fstring(token: str) -> bool:
    prefix = token[: len(token) - len(token.lstrip("rRbBuUfF"))]
    return "f" in prefix.lower()


#: A name inside an f-string (Python 3.11 tokenizes the whole f-string as one token).
_FIELD_NAME = lazy_pattern(r"(?<![\w.\"'])([A-Za-z_]\w*)\b")


def _in_fields(match: re.Match[str], sources: dict[str, str]) -> str:
    name = match.group(1)
    return sources.get(name, name)


_LAYOUT_TOKENS = frozenset(
    {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
)


def _host_has_param(url: Rendered) -> bool:
    """Whether a parameter of the enclosing function decides the host (the mark of a helper)."""
    host = host_part(url.text)
    return any("{" + p + "}" in host for p in url.params) or (host == "" and bool(url.params))


def _invocation_use(outer: str, helper_checks_status: bool) -> str:
    """A helper invocation's response use: the invocation's own, but at least ``status`` when
    the helper checks the status itself (its ``raise_for_status()`` aborted the caller), also
    when the helper goes on to read the body the invocation then ignores."""
    if outer == ResponseUse.NONE.value and helper_checks_status:
        return ResponseUse.STATUS.value
    return outer
