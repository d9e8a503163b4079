"""Every difference between SQLite and PostgreSQL lives here: engine setup, upserts, locks."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from select import POLLIN, poll
from time import monotonic
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Engine,
    LargeBinary,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import Insert

_MIGRATION_LOCK = 0x6A6F62747261696C  # "jobtrail"


def make_engine(url: str) -> Engine:
    """An engine with the settings each dialect needs for safe concurrent use."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    # Service resumes by itself once PostgreSQL is back: a connection that died while it was away
    # is replaced at checkout when its socket says so (`_hung_up`), or when a ping finds it dead
    # after it sat idle in the pool (`IDLE_PING_SECONDS`: a NAT or firewall that forgets an idle
    # connection, a crashed host, tell nothing until a statement is sent). Otherwise a statement
    # meets the lost connection: it is invalidated and the request is a 503. No ping for a
    # connection used moments ago (`pool_pre_ping` pinged every checkout: its round trip cost a
    # small read a tenth of its time). connect_timeout bounds each attempt while PostgreSQL is
    # unreachable.
    engine = create_engine(url, pool_size=10, max_overflow=10, connect_args={"connect_timeout": 5})
    event.listen(engine, "checkout", _replace_if_gone)
    event.listen(engine, "checkin", _note_idle_since)
    return engine


# A pooled connection idle longer than this is pinged before use. Connections a busy server
# uses go back and forth far more often; the idle ones are those a network may have dropped.
IDLE_PING_SECONDS = 30.0


def _note_idle_since(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = monotonic()


def _replace_if_gone(
    dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: object
) -> None:
    """Refuse a pooled PostgreSQL connection that is gone (the pool then opens another): one
    the server hung up on, found by a local poll (an idle connection of ours never LISTENs nor
    has a query running, so anything to read on its socket is the server's goodbye, a shutdown's
    FATAL message or end of file, or a closed socket); and one long idle that fails a ping."""
    if dbapi_connection.closed or _hung_up(dbapi_connection.fileno()):
        raise DisconnectionError("PostgreSQL closed this pooled connection")
    idle_since = record.info.get("idle_since")
    if idle_since is not None and monotonic() - idle_since > IDLE_PING_SECONDS:
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()  # handed over with no transaction open, as it came back
        except Exception as exc:  # whatever the driver raises: the connection is unusable
            raise DisconnectionError(
                f"a pooled PostgreSQL connection failed its ping: {exc}"
            ) from exc


def _hung_up(fd: int) -> bool:
    poller = poll()
    poller.register(fd, POLLIN)
    return bool(poller.poll(0))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _entry: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=FULL")  # a 200 means the batch is on disk
        cursor.execute("PRAGMA temp_store=MEMORY")
        # Checkpoint every ~64 MiB of WAL: one checkpoint then absorbs pages many batches dirtied.
        cursor.execute("PRAGMA wal_autocheckpoint=16000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front: a deferred transaction that upgrades to a write lock
        # fails at once with SQLITE_BUSY instead of waiting for the busy timeout.
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: committed on success, rolled back on any error."""
    if is_sqlite(engine):
        engine = engine.execution_options(sqlite_immediate=True)
    with engine.begin() as conn:
        yield conn


def insert(table: Table, bind: Engine | Connection | str) -> Any:
    """The dialect's INSERT, which offers ON CONFLICT (upsert) clauses."""
    name = bind if isinstance(bind, str) else bind.dialect.name
    factory = sqlite.insert if name == "sqlite" else postgresql.insert
    return factory(table)


def insert_ignore(table: Table, bind: Engine | Connection) -> Insert:
    stmt: Insert = insert(table, bind).on_conflict_do_nothing()
    return stmt


def executemany(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> int:
    """Run one compiled statement for many rows straight through the driver's executemany.

    SQLAlchemy's per-row parameter processing costs more than the insert itself on large
    batches; the values here are plain ints, strings and bytes that need no processing.
    Returns how many rows the statement changed (rows skipped by ON CONFLICT DO NOTHING not)."""
    if not rows:
        return 0
    sql, order = _compiled(stmt, conn.dialect, tuple(rows[0]))
    params: list[Any] = _positional(rows, order) if order else list[Any](rows)
    return int(conn.exec_driver_sql(sql, params).rowcount)


def insert_many(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> int:
    """`executemany` of an INSERT (or upsert) of `stmt.table`; on PostgreSQL
    `INSERT ... SELECT FROM unnest(...)` with one array per column, one statement per
    `_STATEMENT_BYTES` of rows. psycopg's executemany sends the statement once per row, and that
    per-row work costs more than the inserts themselves; the arrays go in one message. Rows are
    inserted in their order, as before. The rows of an upsert must not repeat its conflict key
    (PostgreSQL lets one statement change a row once): ingestion's rows are folded by key.
    Returns the rows changed."""
    if not rows:
        return 0
    if conn.dialect.name != "postgresql":
        return executemany(conn, stmt, rows)
    keys = tuple(rows[0])
    sql, unbounded = _unnest_sql(stmt, conn.dialect, keys)
    changed = 0
    for part in _parts(rows, len(keys), unbounded):
        arrays = {key: [row[key] for row in part] for key in keys}
        changed += conn.exec_driver_sql(sql, arrays).rowcount
    return changed


# About the most one statement's arrays take (bytes). libpq keeps each connection's send buffer
# at the largest message the connection ever sent, rounded up to a power of two, for as long as
# it lives, and any pooled connection may carry a batch: a 1,000-event batch with 850 KB of logs
# in one statement left 1.25 MB with each connection (a 10 MB batch would leave 16 MB); at this
# size, 0.2 MB. Batches without large logs fit in one statement as before.
_STATEMENT_BYTES = 256 * 1024
_VALUE_BYTES = 16  # each value of a column of bounded size, in its array (12-15 measured)


def _parts(
    rows: Sequence[dict[str, Any]], columns: int, unbounded: tuple[str, ...]
) -> Iterator[Sequence[dict[str, Any]]]:
    """`rows` in consecutive slices of as many rows each, as few as keep each slice's size to
    about `_STATEMENT_BYTES` (a row larger than that alone still goes whole): the values of
    unbounded columns (text, bytes) by their length, others by `_VALUE_BYTES` each. Sized in
    total, not row by row, which would cost a tenth of the insert (a batch's rows are alike)."""
    size = columns * _VALUE_BYTES * len(rows)
    size += sum(sum(map(len, filter(None, map(itemgetter(k), rows)))) for k in unbounded)
    count = -(-size // _STATEMENT_BYTES)
    if count <= 1:
        yield rows
        return
    step = -(-len(rows) // count)
    for start in range(0, len(rows), step):
        yield rows[start : start + step]


_UNNEST: dict[tuple[Any, tuple[str, ...]], tuple[str, tuple[str, ...]]] = {}


def _unnest_sql(stmt: Any, dialect: Any, keys: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The statement inserting `keys` from arrays, compiled once per statement and keys (the
    arrays' order is the rows' order), and which of `keys` have no bounded size. Text arrays
    for string columns: a cast to `varchar(n)[]` would cut longer values silently, where
    storing them into the column refuses them as the VALUES form does."""
    hit = _UNNEST.get((stmt, keys))
    if hit is None:
        columns = stmt.table.c

        def array_of(name: str) -> Any:
            kind = columns[name].type
            return ARRAY(Text if isinstance(kind, String) else kind)

        source = (
            func.unnest(*(bindparam(k, type_=array_of(k)) for k in keys))
            .table_valued(*keys)
            .render_derived(name="b")
        )
        unnest = stmt.from_select(list(keys), select(*(source.c[k] for k in keys)))
        sql = str(unnest.compile(dialect=dialect))
        # Arrays in binary (`%b`): psycopg's text format quotes each element through a regex,
        # five times the cost.
        for key in keys:
            sql = sql.replace(f"%({key})s", f"%({key})b")
        unbounded = tuple(k for k in keys if _unbounded(columns[k].type))
        hit = _UNNEST[(stmt, keys)] = (sql, unbounded)
    return hit


def _unbounded(kind: Any) -> bool:
    """Whether a column's values may be of any length (text without a length, bytes)."""
    return isinstance(kind, String | LargeBinary) and getattr(kind, "length", None) is None


def _positional(rows: Sequence[dict[str, Any]], order: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Each row's values in `order`; itemgetter builds the tuples in C, a tenth of the cost of
    a generator per row (a 1,000-event batch has about 1,500 rows to write)."""
    if len(order) == 1:  # itemgetter of one key gives the value, not a tuple
        return [(row[order[0]],) for row in rows]
    return list(map(itemgetter(*order), rows))


# Keyed by the statement itself (which keeps it alive): pass statements built once, not per call.
_COMPILED: dict[tuple[Any, str, tuple[str, ...]], tuple[str, tuple[str, ...] | None]] = {}


def _compiled(stmt: Any, dialect: Any, keys: tuple[str, ...]) -> tuple[str, tuple[str, ...] | None]:
    """SQL text and positional parameter order, compiled once per statement and dialect."""
    cache_key = (stmt, dialect.name, keys)
    hit = _COMPILED.get(cache_key)
    if hit is None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup) if compiled.positional else None
        hit = _COMPILED[cache_key] = (str(compiled), order)
    return hit


_RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock detected


def is_retryable(exc: DBAPIError) -> bool:
    """Whether a failed transaction may simply be run again: PostgreSQL aborted it to resolve a
    deadlock or a serialization conflict with another writer, or a unique key it checked was
    taken meanwhile by a concurrent insert of the same new event."""
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.orig, "sqlstate", None) in _RETRYABLE


_SQLITE_UNAVAILABLE = {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR"}


def is_unavailable(exc: DBAPIError) -> bool:
    """Whether the error means the database is out of reach (refused, lost, shutting down)
    rather than that the statement was wrong: the request may succeed when it is back."""
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlite_error = getattr(exc.orig, "sqlite_errorname", None)
    if sqlite_error is not None:  # SQLite says "operational" of plain mistakes too
        return str(sqlite_error) in _SQLITE_UNAVAILABLE
    state = getattr(exc.orig, "sqlstate", None)
    # No SQLSTATE: the connection itself failed. 08: connection exception; 57P: shutdown.
    return state is None or state.startswith(("08", "57P"))


def joins_subqueries_well(dialect: str) -> bool:
    """Whether `x IN (SELECT ... LIMIT n)` gets a good plan whatever the table statistics.
    SQLite builds a one-off index on the subquery; PostgreSQL, on tables not yet analysed,
    may re-run the subquery once per outer row, so there we fetch the ids first."""
    return dialect == "sqlite"


@contextmanager
def migration_lock(conn: Connection) -> Iterator[None]:
    """Serialise migrations when several servers start at once on one PostgreSQL database."""
    if is_sqlite(conn):
        yield
        return
    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
    try:
        yield
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
