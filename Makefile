# maas: PostgreSQL as a model server (PGXS)

EXTENSION = maas
EXTVERSION = 0.2
PREVIOUS = 0.1
MODULE_big = maas
# The install script of this version is assembled from sql/install/*.sql, and
# the upgrade from the previous release from sql/upgrade/PREVIOUS--EXTVERSION/
# *.sql, each in name order, so that every change adds a file of its own.
# Both assembled scripts are committed too, so that a change to the SQL
# surface shows in them as a reviewer reads it; `make check-sql-scripts`
# (run by scripts/test) fails when they differ from their parts.
# Released scripts (sql/maas--0.1.sql, ...) are committed and never edited.
SQL_INSTALL = sql/maas--$(EXTVERSION).sql
UPGRADE = sql/maas--$(PREVIOUS)--$(EXTVERSION).sql
DATA = $(sort $(wildcard sql/maas--*.sql) $(SQL_INSTALL) $(UPGRADE))
PGFILEDESC = "maas - machine-learning models served in SQL"

# src/maas.c (module load), the SQL glue in src/server/, and the kernels in
# src/kernel/, which include no PostgreSQL header
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/server/*.c src/kernel/*.c)))
PG_CPPFLAGS = -I$(srcdir)/src/server -I$(srcdir)/src/kernel

# OpenBLAS is opened at run time (src/kernel/blas.h), so it is not linked
# here; libcurl is (src/kernel/http.c), and starts nothing until first used
SHLIB_LINK = -ldl -lm -lcurl
PG_CFLAGS = -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Wno-clobbered

# the trainers' elementwise kernels and the conv/pool loops must vectorise,
# and the serving statistics' sums over each sampled row's features
src/kernel/train_nn.o src/kernel/train_mlp.o src/kernel/train_cnn.o: CFLAGS += -O3 -fno-math-errno
src/kernel/conv.o src/kernel/conv_direct.o src/kernel/pool.o src/kernel/pool_nhwc.o: CFLAGS += -O3 -fno-math-errno
src/kernel/drift.o: CFLAGS += -O3
# and the passes of maas_train's preprocessing and the normal equations over
# every row: their loops run across columns, so vectorising them keeps each
# column's sums in the same order (GCC reorders no sum without
# -fassociative-math)
src/kernel/preprocess.o src/kernel/train_linear.o src/kernel/gram_syrk.o: CFLAGS += -O3 -fno-math-errno
# and the transformer kernels' (exp, GELU), the boosted trees' gradients and
# the k-means silhouette: their clamps are selects that GCC if-converts only
# without trapping math
src/kernel/transformer.o src/kernel/sampling.o: CFLAGS += -O3 -fno-math-errno -fno-trapping-math
src/kernel/train_gbdt.o src/kernel/gbdt_bin.o src/kernel/gbdt_hist.o src/kernel/gbdt_grow.o \
	src/kernel/train_kmeans.o src/kernel/kmeans_silhouette.o: CFLAGS += -O3 -fno-math-errno -fno-trapping-math

# pg_regress (test/sql, test/expected): the core tests in this order (each
# builds on the last), then every other test/sql/*.sql, each of which sets up
# and removes what it needs; isolation specs in test/specs
CORE_REGRESS = register predict deploy errors safetensors privileges extension
REGRESS = $(CORE_REGRESS) $(sort $(filter-out $(CORE_REGRESS), \
	$(basename $(notdir $(wildcard test/sql/*.sql)))))
REGRESS_OUTDIR ?= .
REGRESS_OPTS = --inputdir=test --outputdir=$(REGRESS_OUTDIR) --load-extension=maas
ISOLATION = $(basename $(notdir $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=$(REGRESS_OUTDIR)/output_iso \
	--load-extension=maas

# no JIT bitcode: it would need clang at build time for no gain here
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: unittest
unittest:
	$(MAKE) -C test/unit

# PGXS tracks no header dependencies: every object depends on every header
$(OBJS): $(wildcard src/server/*.h src/kernel/*.h)

# (the directories are prerequisites too, so that removing a part rebuilds)
UPGRADE_DIR = sql/upgrade/$(PREVIOUS)--$(EXTVERSION)
all: $(SQL_INSTALL) $(UPGRADE)
$(SQL_INSTALL): sql/install $(sort $(wildcard sql/install/*.sql)) scripts/sql-script
	scripts/sql-script install > $@.tmp && mv $@.tmp $@
$(UPGRADE): $(UPGRADE_DIR) $(sort $(wildcard $(UPGRADE_DIR)/*)) $(wildcard sql/install/*.sql) scripts/sql-script
	scripts/sql-script upgrade $(PREVIOUS) $(EXTVERSION) > $@.tmp && mv $@.tmp $@

# the committed scripts are what their parts assemble to
.PHONY: check-sql-scripts
check-sql-scripts:
	@scripts/sql-script install | cmp -s - $(SQL_INSTALL) || \
		{ echo "$(SQL_INSTALL) differs from sql/install/: run make and commit it" >&2; exit 1; }
	@scripts/sql-script upgrade $(PREVIOUS) $(EXTVERSION) | cmp -s - $(UPGRADE) || \
		{ echo "$(UPGRADE) differs from $(UPGRADE_DIR)/: run make and commit it" >&2; exit 1; }
	@echo "sql scripts: 2 passed, 0 failed"

EXTRA_CLEAN = tmp_check results output_iso log regression.diffs regression.out

# inference benchmark against the peers (installs, starts its own cluster;
# run it under flock /tmp/maas-install.lock on a shared machine)
.PHONY: bench
bench:
	test/bench/run
