# cfaas - plain Makefile. `make` builds every binary into bin/.
#   make test   install what is missing, build, run unit and integration tests
#   make asan   the same tests under AddressSanitizer + UBSan (build/asan)
#   make bench  benchmarks, printed as ratios against a baseline
#   make run    install, build and start the gateway
#   V=1         show the commands

all:

CC ?= cc
OPT ?= -O2
CFLAGS ?= $(OPT) -g
WARNINGS := -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla
CPPFLAGS += -DCFAAS_VERSION=\"0.1.0\"
CPPFLAGS += -D_GNU_SOURCE -iquote common -MMD -MP
LDFLAGS ?=
SAN_FLAGS :=

# Build variants: the normal build lives in build/, bin/; the sanitizer build
# in build/asan/ with its binaries in build/asan/bin/.
ifeq ($(SAN),1)
O := build/asan
BINDIR := build/asan/bin
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
WATCHDOG_STATIC :=
else
O := build
BINDIR := bin
# The watchdog links statically so it runs in any image, `scratch` included,
# and stays small in memory: it uses nothing but libc and pthreads.
WATCHDOG_STATIC := -static
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKGS := libmicrohttpd jansson sqlite3 libcurl libnats yaml-0.1
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

ALL_CFLAGS = $(CFLAGS) $(WARNINGS) $(SAN_FLAGS) $(PKG_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SAN_FLAGS)

# Each program folder: main.c makes the binary, every other .c goes into the
# folder's library so unit tests can link it without main().
PROGRAMS := common watchdog gateway queue-worker cli
lib_srcs = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
lib_objs = $(patsubst %.c,$(O)/%.o,$(call lib_srcs,$(1)))
COMMON_LIB := $(O)/libcommon.a
WATCHDOG_LIB := $(O)/libwatchdog.a
GATEWAY_LIB := $(O)/libgateway.a
WORKER_LIB := $(O)/libqueue-worker.a
CLI_LIB := $(O)/libcli.a
LIBS := $(GATEWAY_LIB) $(WORKER_LIB) $(CLI_LIB) $(WATCHDOG_LIB) $(COMMON_LIB)

# The admin UI: tools/embed turns every file under ui/ into a C table
# (gateway/ui.h) that goes into the gateway's library, so the binary
# carries the page. The folder is a prerequisite too: adding or removing a
# file regenerates the table.
EMBED := $(O)/tools/embed
UI_FILES := $(shell find ui -type f ! -name '.*' 2>/dev/null | LC_ALL=C sort)
UI_GEN := $(O)/gen/ui_assets.c
UI_OBJ := $(O)/gen/ui_assets.o

$(COMMON_LIB): $(call lib_objs,common)
$(WATCHDOG_LIB): $(call lib_objs,watchdog)
$(GATEWAY_LIB): $(call lib_objs,gateway) $(UI_OBJ)
$(WORKER_LIB): $(call lib_objs,queue-worker)
$(CLI_LIB): $(call lib_objs,cli)

$(O)/lib%.a:
	@mkdir -p $(@D)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

# ar needs at least one member; an empty object stands in for folders that
# have nothing but main.c yet.
$(O)/.empty.o:
	@mkdir -p $(@D)
	$(Q)echo 'typedef int cfaas_empty_unit;' | $(CC) -x c -c -o $@ -

$(LIBS): $(O)/.empty.o

# Unit tests and benchmarks see every module's headers.
$(O)/tests/%.o $(O)/bench/%.o: CPPFLAGS += -iquote gateway -iquote queue-worker -iquote cli -iquote watchdog

$(O)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(EMBED): $(O)/tools/embed.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^

$(UI_GEN): $(EMBED) $(UI_FILES) ui
	@mkdir -p $(@D)
	@$(if $(Q),echo "  EMBED   $@")
	$(Q)$(EMBED) $@ ui $(UI_FILES)

$(UI_OBJ): $(UI_GEN)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) -iquote gateway $(ALL_CFLAGS) -c -o $@ $<

BINARIES :=
ifneq ($(wildcard watchdog/main.c),)
BINARIES += $(BINDIR)/cfaas-watchdog
endif
ifneq ($(wildcard gateway/main.c),)
BINARIES += $(BINDIR)/cfaas-gateway
endif
ifneq ($(wildcard queue-worker/main.c),)
BINARIES += $(BINDIR)/cfaas-queue-worker
endif
ifneq ($(wildcard cli/main.c),)
BINARIES += $(BINDIR)/cfaas
endif

$(BINDIR)/cfaas-watchdog: $(O)/watchdog/main.o $(WATCHDOG_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) $(WATCHDOG_STATIC) -o $@ $^ -lpthread

$(BINDIR)/cfaas-gateway: $(O)/gateway/main.o $(GATEWAY_LIB) $(WORKER_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

$(BINDIR)/cfaas-queue-worker: $(O)/queue-worker/main.o $(WORKER_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

$(BINDIR)/cfaas: $(O)/cli/main.o $(CLI_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

# Unit tests: tests/unit/check_<module>.c, each its own libcheck binary.
UNIT_SRCS := $(wildcard tests/unit/check_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))

$(O)/tests/%: $(O)/tests/unit/%.o $(LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -lpthread

# Benchmark helpers (load generator, spawn-only baseline).
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(O)/bench/%,$(BENCH_SRCS))

$(O)/bench/%: $(O)/bench/%.o $(LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread -lm

all: $(BINARIES)

unit-bins: $(UNIT_BINS)
bench-bins: $(BENCH_BINS)

deps:
	$(Q)scripts/install-deps.sh build

test-deps:
	$(Q)scripts/install-deps.sh test

# `make test`: everything from a fresh machine to a verdict.
test: test-deps
	$(Q)$(MAKE) --no-print-directory all unit-bins
	$(Q)scripts/run-tests.sh $(O) $(BINDIR)

asan: test-deps
	$(Q)$(MAKE) --no-print-directory SAN=1 all unit-bins
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		scripts/run-tests.sh build/asan build/asan/bin

bench: test-deps
	$(Q)$(MAKE) --no-print-directory all bench-bins
	$(Q)scripts/run-bench.sh $(O) $(BINDIR)

run:
	$(Q)scripts/install-deps.sh run
	$(Q)$(MAKE) --no-print-directory all
	$(Q)exec $(BINDIR)/cfaas-gateway

PREFIX ?= /usr/local

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/cfaas
	install -m 755 $(BINARIES) $(DESTDIR)$(PREFIX)/bin/
	rm -rf $(DESTDIR)$(PREFIX)/share/cfaas/templates
	cp -R templates $(DESTDIR)$(PREFIX)/share/cfaas/templates

clean:
	rm -rf build bin

.PHONY: all deps test-deps test asan bench run install clean unit-bins bench-bins
.SECONDARY:

-include $(shell find $(O) -name '*.d' 2>/dev/null)
