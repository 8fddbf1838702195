#!/usr/bin/perl
# dbd_client.pl — a Perl DBI / DBD::MariaDB client for the integration tests
# (tests/integration/test_clients_perl.py). One run connects to HOST:PORT,
# runs every check below with the text protocol and then again with
# server-side prepared statements (mariadb_server_prepare=1), and prints
# what it saw in a stable text form, so a run through tandem can be
# compared with a direct one. Exit 0 when every check held, 1 otherwise.
#
# Usage: dbd_client.pl HOST PORT USER PASSWORD DB
use strict;
use warnings;
use DBI;

my ($host, $port, $user, $password, $db) = @ARGV;
die "usage: $0 HOST PORT USER PASSWORD DB\n" unless defined $db;
$| = 1;

sub check {
    my ($ok, $what) = @_;
    return if $ok;
    print STDERR "FAIL: $what\n";
    exit 1;
}

for my $server_prepare (0, 1) {
    my $dsn = "DBI:MariaDB:database=$db;host=$host;port=$port;"
            . "mariadb_server_prepare=$server_prepare";
    my $dbh = DBI->connect($dsn, $user, $password,
                           { RaiseError => 0, PrintError => 0, AutoCommit => 1 });
    check($dbh, "connect: " . ($DBI::errstr // ''));
    print "== server_prepare=$server_prepare\n";

    # query
    my $rows = $dbh->selectall_arrayref(
        "SELECT id, name, qty FROM demo.items WHERE qty >= ? ORDER BY id", undef, 3);
    check($rows, "select: " . ($dbh->errstr // ''));
    print join(",", map { join(":", @$_) } @$rows), "\n";
    my ($s, $n) = $dbh->selectrow_array("SELECT CONCAT(?, 'x'), ? + 1", undef, "ab", 41);
    print "concat $s sum $n\n";

    # prepared statement reused with different parameters
    $dbh->do("DROP TABLE IF EXISTS perl_t$server_prepare");
    check($dbh->do("CREATE TABLE perl_t$server_prepare (id INT PRIMARY KEY, v VARCHAR(20))"),
          "create: " . ($dbh->errstr // ''));
    my $ins = $dbh->prepare("INSERT INTO perl_t$server_prepare VALUES (?, ?)");
    for my $i (1 .. 5) {
        check($ins->execute($i, "v$i"), "insert $i: " . ($ins->errstr // ''));
    }
    my $sel = $dbh->prepare("SELECT v FROM perl_t$server_prepare WHERE id = ?");
    for my $i (5, 1, 3) {
        $sel->execute($i);
        my ($v) = $sel->fetchrow_array;
        print "id $i -> $v\n";
        check($v eq "v$i", "select $i returned $v");
    }

    # transaction: rollback then commit
    check($dbh->begin_work, "begin");
    $dbh->do("INSERT INTO perl_t$server_prepare VALUES (6, 'gone')");
    check($dbh->rollback, "rollback");
    check($dbh->begin_work, "begin 2");
    $dbh->do("INSERT INTO perl_t$server_prepare VALUES (7, 'kept')");
    check($dbh->commit, "commit");
    my ($count) = $dbh->selectrow_array("SELECT COUNT(*) FROM perl_t$server_prepare");
    print "count $count\n";
    check($count == 6, "count $count after rollback and commit");

    # errors: code and state, and the connection keeps working
    my $rc = $ins->execute(1, "dup");
    print "duplicate: ", $dbh->err, " ", $dbh->state, "\n";
    check(!$rc && $dbh->err == 1062, "duplicate key not reported");
    $rc = $dbh->do("SELECT * FROM no_such_table");
    print "missing table: ", $dbh->err, " ", $dbh->state, "\n";
    check(!$rc && $dbh->err == 1146, "missing table not reported");
    my ($one) = $dbh->selectrow_array("SELECT 1");
    check($one == 1, "select after errors");

    $ins->finish;
    $sel->finish;
    $dbh->disconnect;
}
print "ok\n";
