#!/usr/bin/python3
"""What a brand-new backend pays at its first matrix product (issue 12).

Side by side, in one run, on one server restarted between the two ways:
  preloaded   maas.preload_libraries = on (the default): the postmaster opened
              OpenBLAS and oneDNN and made oneDNN's first kernels, on one
              thread; every backend inherits them by fork
  per backend maas.preload_libraries = off: each backend opens them at its
              first product, as before
For each way and round, after one backend (not measured) has made or
verified the model's shared copy, BACKENDS new connections are opened one
after the other and kept; in each: the time to connect, the first statement, the
same statement again, and the backend's own memory (PSS from
/proc/PID/smaps_rollup less the shared memory it touched) before and after.
Three statements, each in its own backends: a tiny GPT-2's generation (the
fixtures', oneDNN's matmul and sgemm), a one-row prediction of the digits
MLP (maas's own kernel, but the libraries are opened all the same), and a
generation with a GPT-2 of GPT-2 small's shape (498 MB, random weights and
a made-up tokenizer of GPT-2's size from test/bench/gpt2_shape.py, written
once under MAAS_BENCH_DIR): its "first" is the issue's "second backend's
first prediction".
Prints medians and ratios; never fails on time.

  test/bench/fresh_backend.py

Env: PG_BINDIR (default /usr/lib/postgresql/15/bin: a server with this build
     of maas installed), MAAS_BENCH_RUNS (5 rounds), MAAS_BENCH_BACKENDS (6 a
     round), MAAS_BENCH_DIR (default /var/tmp/maas-bench-fresh), MAAS_BENCH_GPT2
     (1; 0 leaves GPT-2 small's shape out).  Run as root
     it runs the server as postgres.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import psycopg2

repo = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
bindir = os.environ.get('PG_BINDIR', '/usr/lib/postgresql/15/bin')
runs = int(os.environ.get('MAAS_BENCH_RUNS', '5'))
backends = int(os.environ.get('MAAS_BENCH_BACKENDS', '6'))
top = os.environ.get('MAAS_BENCH_DIR', '/var/tmp/maas-bench-fresh')
data = os.path.join(top, 'data')
port = 5490
as_postgres = ['runuser', '-u', 'postgres', '--'] if os.getuid() == 0 else []
fix = os.path.join(repo, 'test', 'fixtures')
gpt2 = os.path.join(fix, 'text', 'tiny_gpt2')

STATEMENTS = {
    'tiny GPT-2 generate':
        """SELECT maas_generate('tiny_gpt2', 'Hello world', '{"max_new_tokens": 3}')""",
    'digits MLP one row':
        "SELECT maas_predict('digits', features) FROM bench_digits WHERE id = 1",
}
if os.environ.get('MAAS_BENCH_GPT2', '1') == '1':
    STATEMENTS["GPT-2 small's shape generate"] = (
        """SELECT maas_generate('gpt2_small', 'the database is here', '{"max_new_tokens": 2}')""")
gpt2_small = os.path.join(top, 'gpt2_small')
WAYS = [('preloaded', 'on'), ('per backend', 'off')]


def pg(*args):
    subprocess.run(as_postgres + [os.path.join(bindir, args[0])] + list(args[1:]),
                   check=True, stdout=subprocess.DEVNULL)


def connect():
    return psycopg2.connect(host=top, port=port, dbname='postgres', user='postgres')


def own_kb(pid):
    """PSS of a backend less the shared memory (shared_buffers) it touched,
    and its private dirty memory (what it wrote: heap, relocated or copied
    pages; not the clean pages of a mapped file such as a weight copy)"""
    f = {}
    with open('/proc/%d/smaps_rollup' % pid) as fh:
        for line in fh:
            m = re.match(r'(\w+):\s+(\d+) kB', line)
            if m:
                f[m.group(1)] = int(m.group(2))
    return f['Pss'] - f.get('Pss_Shmem', 0), f['Private_Dirty']


def restart(preload):
    with open(os.path.join(data, 'postgresql.auto.conf'), 'w') as f:
        f.write("maas.preload_libraries = %s\n" % preload)
    pg('pg_ctl', '-D', data, '-w', '-m', 'fast', '-l', os.path.join(top, 'log'), 'restart')


def setup():
    if os.path.isdir(data):
        subprocess.run(as_postgres + [os.path.join(bindir, 'pg_ctl'), '-D', data, '-m',
                                      'immediate', 'stop'], stderr=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(data)
    os.makedirs(top, exist_ok=True)
    if as_postgres:
        shutil.chown(top, 'postgres')
    pg('initdb', '-D', data, '-U', 'postgres', '-A', 'trust')
    with open(os.path.join(data, 'postgresql.conf'), 'a') as f:
        f.write("port = %d\nlisten_addresses = ''\nunix_socket_directories = '%s'\n"
                "shared_preload_libraries = 'maas'\nmax_connections = 40\nfsync = off\n"
                "jit = off\n" % (port, top))
    pg('pg_ctl', '-D', data, '-w', '-l', os.path.join(top, 'log'), 'start')
    c = connect()
    c.autocommit = True
    cur = c.cursor()
    cur.execute('CREATE EXTENSION maas')
    cur.execute("""SELECT maas_register_file('tiny_gpt2', 'gpt2', %s,
        pg_read_file(%s)::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
        'vocab', pg_read_file(%s)::jsonb, 'merges', pg_read_file(%s))))""",
                (gpt2 + '/model.safetensors', gpt2 + '/config.json', gpt2 + '/vocab.json',
                 gpt2 + '/merges.txt'))
    cur.execute("SELECT maas_deploy('tiny_gpt2', 1)")
    cur.execute("SELECT maas_register_file('digits', 'mlp', %s, pg_read_file(%s)::jsonb)",
                (fix + '/digits_mlp.safetensors', fix + '/digits_mlp.json'))
    cur.execute("SELECT maas_deploy('digits', 1)")
    if "GPT-2 small's shape generate" in STATEMENTS:
        if not os.path.exists(gpt2_small + '/model.safetensors'):
            subprocess.run(['/usr/bin/python3', os.path.join(repo, 'test/bench/gpt2_shape.py'),
                            gpt2_small, '--tokenizer'], check=True, stdout=subprocess.DEVNULL)
            if as_postgres:
                subprocess.run(['chown', '-R', 'postgres:', gpt2_small], check=True)
        cur.execute("""SELECT maas_register_file('gpt2_small', 'gpt2', %s,
            pg_read_file(%s)::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
            'vocab', pg_read_file(%s)::jsonb, 'merges', pg_read_file(%s))))""",
                    (gpt2_small + '/model.safetensors', gpt2_small + '/config.json',
                     gpt2_small + '/vocab.json', gpt2_small + '/merges.txt'))
        cur.execute("SELECT maas_deploy('gpt2_small', 1)")
    cur.execute('CREATE TABLE bench_digits (id int, features real[], label int)')
    with open(fix + '/digits_test.csv') as f:
        cur.copy_expert('COPY bench_digits FROM STDIN (FORMAT csv, HEADER)', f)
    c.close()


def one_round(sql):
    kept = []
    rows = []
    # not measured: makes or verifies the model's shared copy after the restart
    c = connect()
    c.cursor().execute(sql)
    c.close()
    for _ in range(backends):
        t = time.time()
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        cur.execute('SELECT pg_backend_pid()')
        connect_ms = (time.time() - t) * 1000
        pid = cur.fetchone()[0]
        before = own_kb(pid)
        t = time.time()
        cur.execute(sql)
        first = (time.time() - t) * 1000
        t = time.time()
        cur.execute(sql)
        nxt = (time.time() - t) * 1000
        after = own_kb(pid)
        rows.append((connect_ms, first, nxt, (after[0] - before[0]) / 1024, after[0] / 1024,
                     (after[1] - before[1]) / 1024))
        kept.append((c, pid))
    # the figure: the server's memory per additional backend, the
    # sum of their PSS with all of them against the first one alone
    total = sum(own_kb(pid)[0] for _, pid in kept) / 1024
    slope = (total - rows[0][4]) / (len(kept) - 1) if len(kept) > 1 else float('nan')
    rows = [r + (slope,) for r in rows]
    for c, _ in kept:
        c.close()
    return rows


def main():
    print('machine: %s, %d cores, load average %s (figures on a loaded machine are rough)'
          % (re.search(r'model name\s*: (.*)', open('/proc/cpuinfo').read()).group(1),
             os.cpu_count(), open('/proc/loadavg').read().split()[0]))
    setup()
    res = {(w, s): [] for w, _ in WAYS for s in STATEMENTS}
    for r in range(runs + 1):
        for way, preload in WAYS:
            restart(preload)
            for name, sql in STATEMENTS.items():
                rows = one_round(sql)
                if r > 0:		# the first round warms the page cache
                    res[(way, name)].extend(rows)
    print('%d rounds x %d new backends each, medians; load average now %s'
          % (runs, backends, open('/proc/loadavg').read().split()[0]))
    for name in STATEMENTS:
        print('== %s' % name)
        print('%-12s %10s %10s %10s %12s %10s %10s %10s' % ('', 'connect', 'first', 'next',
                                                           'first-next', 'PSS added',
                                                           'PSS', 'dirty added'))
        med = {}
        for way, _ in WAYS:
            rows = res[(way, name)]
            m = [statistics.median(x[i] for x in rows) for i in range(6)]
            d = statistics.median(x[1] - x[2] for x in rows)
            med[way] = (m, d)
            print('%-12s %8.1f ms %7.1f ms %7.1f ms %9.1f ms %6.2f MiB %6.2f MiB %6.2f MiB'
                  % (way, m[0], m[1], m[2], d, m[3], m[4], m[5]))
        for way, _ in WAYS:
            print('%-12s PSS per additional backend (%d vs 1): %.2f MiB'
                  % (way, backends, statistics.median(x[6] for x in res[(way, name)])))
        (p, pd), (b, bd) = med['preloaded'], med['per backend']
        print('preloaded / per backend: first statement %.2fx, first-next %+.1f ms vs %+.1f ms, '
              'dirty added %.2fx, connect %.2fx'
              % (p[1] / b[1], pd, bd, p[5] / b[5] if b[5] else float('nan'), p[0] / b[0]))
    print('(PSS: less the shared memory touched; for GPT-2 small\'s shape it holds a share of '
          'the mapped 498 MB copy, which the backends of a round divide between them)')
    pg('pg_ctl', '-D', data, '-w', '-m', 'fast', 'stop')


if __name__ == '__main__':
    sys.exit(main())
