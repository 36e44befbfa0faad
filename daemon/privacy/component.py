"""The privacy component: the daemon's ``audit``, ``bundle.*``, ``keys.*`` and ``forget`` requests, and the
background work that keeps promises without being asked (finishing an interrupted key rotation, retention).

Requests (``Request.name`` -> ``Result.value``):

* ``audit`` ``{only?: [check], logs?: [path], folder?: path}`` -> the auditor's report (``ok``, ``checked``,
  ``failures``, ``notes``); an audit that finds problems still answers normally, the CLI turns ``ok`` into its exit.
* ``bundle.build`` ``{notes?, synthesis_model?, folder?}`` -> what was written (files and their SHA-256).
* ``bundle.show`` ``{folder?}`` -> the manifest and every row, face by face, plus any layout problems.
* ``keys.rotate`` ``{batch?}`` -> streams Progress (``start``, ``batch``, ``deleted-key``), then the summary.
* ``keys.status`` ``{}`` -> the active key, the keys values name, any unfinished rotation.
* ``forget`` ``{before? | harness? | all?}`` -> rows deleted per table; ``all`` also shreds the keys and stops the
  daemon (it starts afresh, with new keys, on the next request or start).
* ``retention.run`` ``{}`` -> one retention pass now (``days``, ``dropped``, ``skipped``): what the hourly pass does.
  It is skipped, with the reason, while the wall clock disagrees with the boot clock (``daemon/clock.py``).

Resource handling: one rotation or forget at a time (``_lock``); blocking work (keyring, files, VACUUM) runs in
worker threads; the store is the daemon's.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from llmojid.client import paths
from llmojid.client import protocol as p
from llmojid.common.sanitizer import sanitize
from llmojid.common.version import VERSION
from llmojid.daemon import sessions
from llmojid.daemon.clock import WallClockWatch
from llmojid.daemon.dispatch import CallContext, Dispatcher, DispatchError, args_as
from llmojid.daemon.keys import KeyringUnavailableError
from llmojid.daemon.privacy import auditor, forget, forget_all, retention, rotation
from llmojid.daemon.privacy import bundle as layout
from llmojid.daemon.privacy.bundle_folder import (
    BundleFolderError,
    default_folder,
    read_folder,
    write_folder,
)
from llmojid.daemon.privacy.sealed import key_counts

if TYPE_CHECKING:
    from llmojid.daemon.app import Daemon

log = logging.getLogger("llmojid.privacy")

PRODUCER: Final = f"llmojid/{VERSION}"


class AuditArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    only: list[str] = []
    logs: list[str] = []
    folder: str = ""


class BuildArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    notes: str = ""
    synthesis_model: str = ""
    folder: str = ""


class ShowArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    folder: str = ""


class NoArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class RotateArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: Values per transaction (0 = ``rotation.BATCH``); tests use small batches to have many points to crash at.
    batch: int = 0


class ForgetArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    before: str = ""
    harness: str = ""
    all: bool = False


def _folder(text: str) -> Path:
    if not text:
        return default_folder()
    if not os.path.isabs(text):
        raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "the bundle folder must be an absolute path")
    return Path(text)


def _utc_seconds(ts: str) -> str:
    """A journal timestamp as the manifest's ``generated_at`` (``1970-01-01T00:00:00Z`` if it does not parse)."""
    try:
        moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return "1970-01-01T00:00:00Z"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(layout.TIME_FORMAT)


class PrivacyComponent:
    """See the module docstring. Built by ``daemon/components.py`` from the running daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.store = daemon.store
        self.keys = daemon.keys
        self._lock = trio.Lock()
        self._clock = WallClockWatch()

    # --- lifecycle ---------------------------------------------------------------------------------------------
    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.add_named("audit", self._audit)
        dispatcher.add_named("bundle.build", self._bundle_build)
        dispatcher.add_named("bundle.show", self._bundle_show)
        dispatcher.add_named("keys.rotate", self._keys_rotate)
        dispatcher.add_named("keys.status", self._keys_status)
        dispatcher.add_named("forget", self._forget)
        dispatcher.add_named("retention.run", self._retention_run)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Finish an interrupted rotation, then apply retention now and every ``retention.INTERVAL_SECONDS``."""
        task_status.started()
        try:
            if await self.store.read(rotation.load_plan) is not None:
                async with self._lock:
                    await rotation.rotate(self.store, self.keys)
        except (rotation.RotationError, KeyringUnavailableError) as exc:
            log.error("the interrupted key rotation could not finish: %s", exc)
        while True:
            await self._retention_pass()
            await trio.sleep(retention.INTERVAL_SECONDS)

    def close(self) -> None:
        return None

    async def _retention_pass(self) -> dict[str, Any]:
        """Drop the text of rows older than ``retain_text_days``; returns what it did (or why it did nothing)."""
        from llmojid.common import config

        try:
            days = config.load(config.config_file(paths.config_dir())).config.retain_text_days
        except config.ConfigError as exc:
            log.warning("retention skipped: %s", exc)
            return {"days": None, "dropped": 0, "skipped": "the config file is invalid; see the daemon log"}
        before = retention.cutoff(days, datetime.now(UTC))
        if before is None:
            return {"days": days, "dropped": 0, "skipped": "retention is off (retain_text_days = 0)"}
        if self._clock.stepped():
            # A clock a year ahead would drop every text; wait until it agrees again (or a restart trusts it).
            step = self._clock.step_seconds()
            log.warning("retention skipped: the wall clock moved %+.0f s against the boot clock since start", step)
            return {"days": days, "dropped": 0, "skipped": f"the wall clock was stepped by {step:+.0f} s since start"}
        changed = await self.store.write(lambda conn: retention.drop_text(conn, before))
        if changed:
            await trio.to_thread.run_sync(forget.vacuum, self.store.path)
            log.info("retention: dropped the text of %d journal row(s) older than %d days", changed, days)
        return {"days": days, "dropped": changed, "skipped": None}

    async def _retention_run(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        args_as(NoArgs, msg)
        async with self._lock:
            return p.Result(value=await self._retention_pass())

    # --- audit -------------------------------------------------------------------------------------------------
    async def _audit(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        args = args_as(AuditArgs, msg)
        only = frozenset(args.only or auditor.CHECKS)
        unknown = sorted(only - set(auditor.CHECKS))
        if unknown:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"unknown check(s); known: {', '.join(auditor.CHECKS)}")
        if any(not os.path.isabs(log_path) for log_path in args.logs):
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "log paths must be absolute")
        return p.Result(value=(await self.audit(only, [Path(x) for x in args.logs], _folder(args.folder))).to_dict())

    async def audit(self, only: frozenset[str], logs: list[Path], folder: Path) -> auditor.Report:
        from llmojid.common import config

        report = auditor.Report()
        keys = await self._resolve_keys()
        active = self.keys.active_id
        sealed_report = auditor.Report()

        def store_checks(conn: Any) -> set[str]:
            tokens = auditor.check_sealed(conn, keys.get, active, sealed_report)
            if "store.plaintext" in only:
                auditor.check_plaintext(conn, report)
            if "sessions" in only:
                diary = sessions.gather(self.store, conn, since=None, limit=sessions.MAX_SESSIONS)
                auditor.check_sessions(diary["sessions"], tokens, report)
            return tokens

        tokens = await self.store.read(store_checks)
        if "store.sealed" in only:
            report.checked.update(sealed_report.checked)
            report.failures[:0] = sealed_report.failures
            report.notes += sealed_report.notes
        audit_paths = auditor.AuditPaths(
            state_dir=self.daemon.state_dir,
            database=self.store.path,
            spool_dir=self.daemon.state_dir / "spool",
            socket_path=self.daemon.socket_path,
            config_dir=paths.config_dir(),
            config_file=config.config_file(paths.config_dir()),
            data_dir=paths.data_dir(),
            bundle_dir=folder,
            logs=tuple(logs),
            handoff_dir=paths.runtime_dir() / "opencode",
        )
        await trio.to_thread.run_sync(auditor.check_files, audit_paths, tokens, report, only)
        for check in sorted(only):
            report.checked.setdefault(check, 0)
        if not report.ok:
            log.warning("audit found %d problem(s)", len(report.failures))
        return report

    async def _resolve_keys(self) -> dict[str, bytes]:
        """Every key a sealed value names that the keyring holds (asked here, not on the store's threads).

        An unreachable keyring raises (the reply says KEYRING): it is not a deleted key, and reporting it as one
        would tell the user to forget data that is still readable.
        """
        found: dict[str, bytes] = {}
        for key_id in sorted(await self.store.read(key_counts)):
            if not await trio.to_thread.run_sync(rotation.keyring_holds, self.keys, key_id):
                continue
            try:
                found[key_id] = await trio.to_thread.run_sync(self.keys.data_key, key_id)
            except KeyringUnavailableError:
                continue  # deleted between the two lookups
        return found

    # --- bundle ------------------------------------------------------------------------------------------------
    async def _bundle_build(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        args = args_as(BuildArgs, msg)
        folder = _folder(args.folder)
        cleaned = sanitize(args.notes)
        if len(cleaned.text) > layout.MAX_NOTES_CHARS or cleaned.truncated:
            raise DispatchError(
                p.ErrorCode.INVALID_ARGUMENT, f"notes may hold at most {layout.MAX_NOTES_CHARS} characters"
            )
        inputs = await self._bundle_inputs(args.synthesis_model, cleaned.text)
        try:
            files = layout.render(inputs)
        except layout.BundleError as exc:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, str(exc)) from None
        try:
            before = await trio.to_thread.run_sync(read_folder, folder)
            unchanged = not before.problems and before.files == files
            if not unchanged:
                await trio.to_thread.run_sync(write_folder, folder, files)
        except BundleFolderError as exc:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, str(exc)) from None
        log.info("bundle built: %d face(s) of %d model(s)", len(inputs.cells), len(files) - 1)
        return p.Result(
            value={
                "folder": str(folder),
                "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
                "faces": len(inputs.cells),
                "models": len(files) - 1,
                "rows": sum(c.count for c in inputs.cells),
                "synthesis_model_id": inputs.synthesis_model_id,
                "synthesis_backend": inputs.synthesis_backend,
                "generated_at": inputs.generated_at,
                "notes_redacted": list(cleaned.found),
                "unchanged": unchanged,
            }
        )

    async def _bundle_inputs(self, wanted_model: str, notes: str) -> layout.Inputs:
        from llmojid.daemon.model import cache

        def read(conn: Any) -> tuple[list[Any], list[tuple[str, str, str, int, str]]]:
            cached = list(cache.read_all(self.store, conn))
            journal = [
                (str(m), str(c), str(h), int(n), str(ts))
                for m, c, h, n, ts in conn.execute(
                    "SELECT model, canonical, harness, count(*), max(ts) FROM journal"
                    " GROUP BY model, canonical, harness"
                )
            ]
            return cached, journal

        cached, journal = await self.store.read(read)
        groups: dict[tuple[str, str, str], list[Any]] = {}
        for cell in cached:
            if wanted_model and cell.synthesis_model != wanted_model:
                continue
            groups.setdefault((cell.synthesis_model, cell.backend, cell.method), []).append(cell)
        if not groups:
            raise DispatchError(
                p.ErrorCode.NOT_FOUND,
                "no synthesized faces"
                + (" for that synthesis model" if wanted_model else "")
                + " yet: run llmojid-ctl analyze first",
            )
        chosen = min(groups, key=lambda k: (-len(groups[k]), k))
        counts: dict[tuple[str, str], int] = {}
        providers: dict[tuple[str, str], set[str]] = {}
        newest: dict[tuple[str, str], str] = {}
        for model, canonical, harness, n, ts in journal:
            cell_key = (model, canonical)
            counts[cell_key] = counts.get(cell_key, 0) + n
            providers.setdefault(cell_key, set()).add(harness)
            newest[cell_key] = max(newest.get(cell_key, ""), ts)
        cells = layout.cells_from(((c.source_model, c.canonical, c.bag) for c in groups[chosen]), counts)
        if not cells:
            raise DispatchError(p.ErrorCode.NOT_FOUND, "the synthesized faces are no longer in the journal")
        secret = await trio.to_thread.run_sync(self.keys.submitter_secret)
        return layout.Inputs(
            cells=cells,
            producer_version=PRODUCER,
            synthesis_model_id=chosen[0],
            synthesis_backend=chosen[1],
            submitter_id=layout.submitter_id(secret, PRODUCER),
            generated_at=_utc_seconds(max(newest[(c.source_model, c.canonical)] for c in cells)),
            providers_seen=tuple(sorted({h for c in cells for h in providers[(c.source_model, c.canonical)]})),
            notes=notes,
        )

    async def _bundle_show(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        folder = _folder(args_as(ShowArgs, msg).folder)
        try:
            contents = await trio.to_thread.run_sync(read_folder, folder)
        except BundleFolderError as exc:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, str(exc)) from None
        if not contents.exists:
            raise DispatchError(p.ErrorCode.NOT_FOUND, "there is no bundle yet: run llmojid-ctl bundle build")
        problems = contents.problems + layout.validate(contents.files)
        try:
            shown = layout.preview(contents.files)
        except (UnicodeDecodeError, ValueError):
            shown = {"manifest": {}, "files": {}}
        return p.Result(value={"folder": str(folder), "problems": problems, **shown})

    # --- keys --------------------------------------------------------------------------------------------------
    async def _keys_rotate(self, msg: p.Request, ctx: CallContext) -> p.Result:
        args = args_as(RotateArgs, msg)
        if not 0 <= args.batch <= 100_000:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "batch must be between 1 and 100000 (0: default)")

        async def progress(event: dict[str, object]) -> None:
            # The rotation goes on if the client leaves: stopping halfway would only leave it to be resumed.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await ctx.send_progress(event)

        async with self._lock:
            try:
                summary = await rotation.rotate(self.store, self.keys, progress, args.batch or rotation.BATCH)
            except rotation.RotationError as exc:
                raise DispatchError(p.ErrorCode.STORAGE, str(exc)) from None
        return p.Result(value=summary)

    async def _keys_status(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        args_as(NoArgs, msg)
        return p.Result(value=await rotation.status(self.store, self.keys))

    # --- forget ------------------------------------------------------------------------------------------------
    async def _forget(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        args = args_as(ForgetArgs, msg)
        try:
            scope = forget.parse_scope(args.before, args.harness, args.all)
        except forget.ForgetError as exc:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, str(exc)) from None
        async with self._lock:
            if scope.everything:
                return p.Result(value=await self._forget_everything(scope))
            deleted = await self.store.write(lambda conn: forget.delete_rows(conn, scope))
            await trio.to_thread.run_sync(forget.vacuum, self.store.path)
        log.info("forget: deleted %d row(s)", sum(deleted.values()))
        return p.Result(value={"deleted": deleted, "vacuumed": True, "keys_deleted": False, "stopping": False})

    async def _forget_everything(self, scope: forget.Scope) -> dict[str, Any]:
        """Rows, spool, bundle, then the keys, in ``forget_all``'s crash-safe order; the daemon then stops.

        It stops even when a step fails: new work was refused from the first step on, and the next start finishes
        what the record left (``forget_all.finish_unfinished``); ``forget --all`` can also simply be run again.
        """
        self.daemon.dispatcher.ready = False  # take no new work: nothing may be sealed under a key about to go
        try:
            deleted = await self.store.write(lambda conn: forget_all.begin(conn, self.keys))
            spooled, bundle_removed = await trio.to_thread.run_sync(
                forget_all.finish, self.store.path, self.daemon.state_dir, default_folder(), self.keys
            )
            # A write already in flight fails to seal now (no key); sweep once more so no row outlives its key.
            late = await self.store.write(lambda conn: forget.delete_rows(conn, scope))
            if any(n for table, n in late.items() if table != "meta"):
                await trio.to_thread.run_sync(forget.vacuum, self.store.path)
            log.info("forget --all: deleted every row, the spool, the bundle and the keys; stopping")
        except Exception:
            log.error("forget --all did not finish; stopping (the next start finishes it)")
            raise
        finally:
            if self.daemon.server is not None:
                self.daemon.server.shutdown()
        return {
            "deleted": deleted,
            "vacuumed": True,
            "spool_files_removed": spooled,
            "bundle_removed": bundle_removed,
            "keys_deleted": True,
            "stopping": True,
        }
