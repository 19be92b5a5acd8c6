"""Schema migrations (Alembic) run from code: upgrade, stamp old databases, compare, list.

``init_db`` calls :func:`upgrade`; ``safecity db ...`` calls the rest. The Alembic
environment lives in ``store/migrations`` inside the package, and its ``Config`` is built
here, so migrations run from any working directory and from an installed wheel without an
``alembic.ini``.

Concurrency: several workers may start against one database at once. The upgrade runs in one
transaction under a lock (PostgreSQL: an advisory transaction lock per schema; SQLite:
``BEGIN IMMEDIATE``), re-reads the version inside it, and either applies every pending
revision or none (both backends have transactional DDL).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, text

from safecity.errors import PermanentError
from store.models_index import load_all_models

logger = logging.getLogger(__name__)

BASELINE = "0001_baseline"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
#: Longest wait for another process's migration (or for a table lock the DDL needs), s.
LOCK_WAIT_S = 120.0


class SchemaError(PermanentError):
    """The database's schema is not one this software can migrate or use as it is."""


@dataclass(frozen=True)
class UpgradeReport:
    """What :func:`upgrade` did.

    Attributes:
        before: revisions the database was at (empty: a new database).
        after: revisions it is at now.
        stamped_legacy: the database was made by the pre-migration ``create_all`` and was
            stamped at the baseline after its schema was checked.
        seconds: wall time of the upgrade, s.
    """

    before: tuple[str, ...]
    after: tuple[str, ...]
    stamped_legacy: bool
    seconds: float

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _include_name(name: str | None, type_: str, _parent: dict) -> bool:
    # The version table is Alembic's own; everything else in the database must match the models.
    return not (type_ == "table" and name == VERSION_TABLE)


def migration_context_options(metadata: MetaData) -> dict:
    """Options shared by the Alembic environment and the schema comparison.

    ``render_as_batch`` makes autogenerate write SQLite-safe ``batch_alter_table`` blocks
    (SQLite cannot ALTER most things in place); on PostgreSQL they are plain ALTERs.
    """
    return {
        "target_metadata": metadata,
        "render_as_batch": True,
        "compare_type": True,
        "include_name": _include_name,
        "transaction_per_migration": False,
    }


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic ``Config`` for the packaged migrations, built without an ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def script_heads() -> tuple[str, ...]:
    """The head revisions this software ships (one in a release; see :func:`script_head`)."""
    return tuple(sorted(_script().get_heads()))


def script_head() -> str:
    """The one head revision this software ships, which ``upgrade`` migrates to.

    Several heads mean a revision was added beside the current head instead of on top of it
    (its ``down_revision`` names an older revision): applying them all with ``upgrade heads``
    would run them in an order nobody chose and record several versions in the database, so
    the release is refused until a merge revision (``alembic merge heads``) joins them.

    Raises:
        SchemaError: the migrations directory has more than one head (or none).
    """
    heads = script_heads()
    if len(heads) != 1:
        raise SchemaError(
            f"{MIGRATIONS_DIR}: the migrations have {len(heads)} heads {list(heads)}, expected exactly one; "
            "base the new revision on the current head or add a merge revision "
            "(`alembic merge heads -m merge`), see docs/storage.md"
        )
    return heads[0]


def current_revisions(conn: Connection) -> tuple[str, ...]:
    """The revisions recorded in the database (empty when it was never migrated)."""
    return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def history() -> list[tuple[str, tuple[str, ...], str]]:
    """Every shipped revision, newest first, as (revision, down revisions, message)."""
    out = []
    for rev in _script().walk_revisions():
        down = rev.down_revision
        downs = () if down is None else (down,) if isinstance(down, str) else tuple(down)
        out.append((rev.revision, downs, (rev.doc or "").strip()))
    return out


def append_only_trigger_ddl(dialect: str) -> list[str]:
    """The exchange log's trigger DDL for ``dialect`` (from exchange.schema; empty if none)."""
    import exchange.schema as ex

    if dialect == "sqlite":
        return ex._sqlite_ddl()
    if dialect == "postgresql":
        return ex._postgres_ddl()
    return []


def install_append_only_triggers(conn: Connection) -> None:
    """Install the exchange triggers on ``conn`` inside its transaction (idempotent DDL)."""
    for statement in append_only_trigger_ddl(conn.dialect.name):
        conn.execute(text(statement))


_TRIGGER_NAME = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)


def expected_triggers(dialect: str) -> set[str]:
    """Names of the triggers the exchange DDL creates on ``dialect``."""
    return {m.group(1) for ddl in append_only_trigger_ddl(dialect) if (m := _TRIGGER_NAME.search(ddl))}


def existing_triggers(conn: Connection) -> set[str]:
    """Names of the triggers present in the connection's (default) schema."""
    if conn.dialect.name == "sqlite":
        return set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    if conn.dialect.name == "postgresql":
        return set(
            conn.scalars(
                text(
                    "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE NOT t.tgisinternal AND n.nspname = current_schema()"
                )
            )
        )
    return set()


def schema_differences(conn: Connection) -> list[str]:
    """What differs between the database and the models, one line per difference.

    Empty when the migrated schema equals ``load_all_models()`` (tables, columns, types,
    nullability, indexes, unique and foreign keys) and every exchange trigger exists. A model
    change without a revision shows up here.
    """
    metadata = load_all_models()
    ctx = MigrationContext.configure(conn, opts=migration_context_options(metadata))
    lines = [_describe(diff) for diff in compare_metadata(ctx, metadata)]
    missing = expected_triggers(conn.dialect.name) - existing_triggers(conn)
    lines += [f"missing trigger {name}" for name in sorted(missing)]
    return lines


def _describe(diff) -> str:  # noqa: ANN001 - alembic diff tuples are untyped
    if isinstance(diff, list):  # column modifications come grouped
        return "; ".join(_describe(d) for d in diff)
    op, *args = diff
    if op.startswith("modify_"):  # (op, schema, table, column, existing_kw, db value, model value)
        _schema, table, column, _existing, old, new = args
        return f"{op} {table}.{column}: database {old!r}, models {new!r}"
    names = []
    for arg in args:
        name = getattr(arg, "name", None)
        if name is not None:
            table = getattr(arg, "table", None)
            names.append(f"{table.name}.{name}" if table is not None and hasattr(arg, "type") else str(name))
        elif isinstance(arg, str):
            names.append(arg)
    return f"{op} {' '.join(names)}".strip()


@contextlib.contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other migrating process can enter."""
    with engine.connect() as conn:
        dialect = conn.dialect.name
        busy_ms = None
        if dialect == "sqlite":
            # Batch migrations copy tables: foreign keys must be off meanwhile (and the pragma
            # is ignored inside a transaction, hence before BEGIN). BEGIN IMMEDIATE takes the
            # write lock now, so a second process waits (up to LOCK_WAIT_S) instead of
            # migrating too.
            busy_ms = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(LOCK_WAIT_S * 1000)}")
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif dialect == "postgresql":
            # Bounded waits, for the lock and for the tables the DDL needs, so a stuck
            # migration elsewhere gives an error instead of a hung worker.
            conn.execute(text(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_S)}s'"))
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('safecity.migrate:' || current_schema()))"))
        try:
            yield conn
            if dialect == "sqlite":
                bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if bad:
                    raise SchemaError(f"migration left {len(bad)} rows with broken foreign keys, e.g. {tuple(bad[0])}")
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            if dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_ms or 0)}")
                conn.commit()


@functools.lru_cache(maxsize=1)
def _baseline_columns() -> dict[str, frozenset[str]]:
    """Table -> column names that the baseline revision creates (from a scratch SQLite)."""
    scratch = create_engine("sqlite://")
    try:
        with scratch.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE)
            insp = inspect(conn)
            return {
                t: frozenset(c["name"] for c in insp.get_columns(t)) for t in insp.get_table_names() if t != VERSION_TABLE
            }
    finally:
        scratch.dispose()


def _legacy_problems(conn: Connection) -> list[str]:
    insp = inspect(conn)
    present = set(insp.get_table_names())
    problems = []
    for table, columns in sorted(_baseline_columns().items()):
        if table not in present:
            problems.append(f"table {table} is missing")
            continue
        have = {c["name"] for c in insp.get_columns(table)}
        if have != columns:
            missing, extra = sorted(columns - have), sorted(have - columns)
            problems.append(f"table {table}: missing columns {missing}, unexpected columns {extra}")
    return problems


def upgrade(engine: Engine) -> UpgradeReport:
    """Bring the database to the shipped head (``alembic upgrade head``).

    A database at several revisions (made before ``0007_merge_heads`` joined the branches, when
    ``upgrade heads`` applied them all) is upgraded from each to the merge point, so it then
    records one revision.

    A database made before migrations existed (tables present, no ``alembic_version``) is
    checked against the baseline revision's tables and columns and, when it matches, stamped
    at ``0001_baseline`` and upgraded from there.

    Raises:
        SchemaError: the database has tables but no version and does not match the baseline;
            or it is at a revision this software does not know (a newer release migrated it);
            or the shipped migrations have more than one head (:func:`script_head`).
    """
    started = time.perf_counter()
    heads = (script_head(),)
    with engine.connect() as conn:
        before = current_revisions(conn)
    if before == heads:  # the common case: one query, no lock
        return UpgradeReport(before, before, False, time.perf_counter() - started)
    stamped = False
    with _locked(engine) as conn:
        before = current_revisions(conn)  # another process may have migrated meanwhile
        unknown = [rev for rev in before if not _known(rev)]
        if unknown:
            raise SchemaError(
                f"{_safe_url(engine)}: database is at revision(s) {unknown} that this software does not know; "
                "it was migrated by a newer release: upgrade the software"
            )
        if not before:
            tables = set(inspect(conn).get_table_names())
            legacy = tables & set(_baseline_columns())
            if legacy:
                problems = _legacy_problems(conn)
                if problems:
                    raise SchemaError(
                        f"{_safe_url(engine)}: has tables but no {VERSION_TABLE}, and they do not match revision "
                        f"{BASELINE}: " + "; ".join(problems) + ". Migrate or rebuild this database by hand."
                    )
                command.stamp(alembic_config(conn), BASELINE)
                install_append_only_triggers(conn)  # an old database may predate some triggers
                stamped = True
                logger.info("stamped pre-migration database revision=%s", BASELINE)
        if current_revisions(conn) != heads:
            command.upgrade(alembic_config(conn), heads[0])
        after = current_revisions(conn)
    seconds = time.perf_counter() - started
    logger.info("database migrated before=%s after=%s seconds=%.3f", before, after, seconds)
    return UpgradeReport(before, after, stamped, seconds)


def _known(revision: str) -> bool:
    try:
        return _script().get_revision(revision) is not None
    except CommandError:
        return False


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
