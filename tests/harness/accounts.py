"""The accounts and schemas every MariaDBPair creates on its primary (and so,
through replication, on its replica). Tests and tandem configs take the names
and passwords from here rather than repeating string literals."""

MONITOR_USER = "tandem_monitor"
MONITOR_PASSWORD = "monitor-pass"
APP_USER = "app"
APP_PASSWORD = "app-pass"
REPL_USER = "tandem_repl"
REPL_PASSWORD = "repl-pass"

# Users known to the harness: MariaDBServer.connect() fills in the password.
PASSWORDS = {
    "root": "",
    MONITOR_USER: MONITOR_PASSWORD,
    APP_USER: APP_PASSWORD,
    REPL_USER: REPL_PASSWORD,
}

APP_SCHEMAS = ("demo", "sbtest", "test")

# Every account exists for '%' (TCP from 127.0.0.1) and 'localhost' (the unix
# socket), and uses mysql_native_password, MariaDB's default and what tandem
# authenticates with.
HOSTS = ("%", "localhost")


def _create_user(user: str, password: str) -> list[str]:
    return [f"CREATE USER '{user}'@'{h}' IDENTIFIED VIA mysql_native_password "
            f"USING PASSWORD('{password}')" for h in HOSTS]


# Created first, before the replica connects, so it can connect.
REPLICATION_SQL = [
    *_create_user(REPL_USER, REPL_PASSWORD),
    *[f"GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'{h}'" for h in HOSTS],
]

# The monitor gets ALL PRIVILEGES rather than a hand-picked list: what a proxy
# monitor reads and does (SHOW SLAVE STATUS, SHOW BINLOG STATUS, read_only
# checks and flips, SHOW PROCESSLIST, reading mysql.* accounts, the write probe's
# SELECT ... FOR UPDATE on mysql.gtid_slave_pos) maps to privileges that MariaDB renamed and split between
# 10.5 and 11.x (SUPER -> REPLICA MONITOR, BINLOG MONITOR, READ_ONLY ADMIN, ...).
# ALL is stable across those versions; this is a test pair, not production.
MONITOR_SQL = [
    *_create_user(MONITOR_USER, MONITOR_PASSWORD),
    *[f"GRANT ALL PRIVILEGES ON *.* TO '{MONITOR_USER}'@'{h}' WITH GRANT OPTION"
      for h in HOSTS],
]

APP_SQL = [
    *_create_user(APP_USER, APP_PASSWORD),
    *[f"CREATE DATABASE {db}" for db in APP_SCHEMAS],
    *[f"GRANT ALL PRIVILEGES ON `{db}`.* TO '{APP_USER}'@'{h}'"
      for db in APP_SCHEMAS for h in HOSTS],
]

DEMO_SQL = [
    "CREATE TABLE demo.items ("
    " id INT AUTO_INCREMENT PRIMARY KEY,"
    " name VARCHAR(64) NOT NULL,"
    " qty INT NOT NULL DEFAULT 0,"
    " created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    "INSERT INTO demo.items (name, qty) VALUES ('apple', 3), ('pear', 5), ('plum', 8)",
]

SETUP_SQL = [*MONITOR_SQL, *APP_SQL, *DEMO_SQL]
