"""tandem's integration-test harness: real MariaDB servers, a real tandem
process and real clients, each started, faulted and stopped by pid.

Modules (import them as `harness.<module>` with tests/ on sys.path):
  util      free ports, polling waits, scratch directories
  procs     every child process: start, signal, stop, cleanup at exit
  template  the cached mariadb-install-db datadir that servers copy
  accounts  users, passwords and schemas created on every pair
  server    MariaDBServer: one mariadbd and its faults
  pair      MariaDBPair: primary + GTID replica (optionally semi-sync)
  tandem    TandemProcess and config builders
  clients   mariadb CLI, sysbench and PyMySQL wrappers

Runs on Debian's /usr/bin/python3 (3.11, stdlib + python3-pymysql).
"""
