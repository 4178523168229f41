# maas: PostgreSQL as a model server (PGXS)

EXTENSION = maas
EXTVERSION = 0.1
MODULE_big = maas
# the install script is assembled from sql/install/*.sql, in name order
DATA_built = sql/maas--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard sql/maas--*--*.sql))
PGFILEDESC = "maas - machine-learning models served in SQL"

# kernels (no PostgreSQL headers) and the SQL glue above them
KERNEL_OBJS = src/net.o src/safetensors.o src/blas.o
OBJS = src/maas.o src/catalog.o src/model.o src/cache.o src/registry.o \
	src/predict.o $(KERNEL_OBJS)

# OpenBLAS is opened at run time (src/blas.h), so it is not linked here
SHLIB_LINK = -ldl -lm
PG_CFLAGS = -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Wno-clobbered

REGRESS = register predict deploy errors safetensors privileges
REGRESS_OPTS = --inputdir=. --load-extension=maas
ISOLATION = deploy_while_predicting
ISOLATION_OPTS = --load-extension=maas

# no JIT bitcode: it would need clang at build time for no gain here
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: unittest
unittest:
	$(MAKE) -C test/unit

sql/maas--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

EXTRA_CLEAN = tmp_check results output_iso log regression.diffs regression.out
