# hopcount — plain GNU make. `make`, `make run`, `make test`, `make test SANITIZE=1`.

CC ?= cc
# The version, in one place: debian/changelog's first entry (0.2.0-1 -> 0.2.0).
PAREN := ()
VERSION := $(shell head -1 debian/changelog | cut -d' ' -f2 | tr -d '$(PAREN)' | cut -d- -f1)
PKGS := libevent hiredis libxxhash inih nettle
# hopctl alone: the HTML parser of hopctl wrap.
CLI_PKGS := gumbo

ifeq ($(SANITIZE),1)
BUILD ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else
BUILD ?= build
SANFLAGS :=
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(CLI_PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CLI_LIBS = $(shell pkg-config --libs $(CLI_PKGS) 2>/dev/null)
# Each wing sees its own headers and common's (ours first: hiredis's include
# dir holds generic names such as async.h and read.h); tests see all three.
INC_common := -Iinclude/common
INC_daemon := -Iinclude/common -Iinclude/daemon
INC_cli := -Iinclude/common -Iinclude/cli
INC_tests := -Iinclude/common -Iinclude/daemon -Iinclude/cli
BASE_CFLAGS = -std=c11 -O2 -g $(WARN) -D_GNU_SOURCE $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lhttp_parser -lpthread -lm $(LDLIBS)

ifneq ($(V),1)
Q := @
E := @echo
else
Q :=
E := @true
endif

# Three wings (docs/architecture.md): what both programs share, the
# daemon's own, hopctl's own. hopcount links common + daemon, hopctl common +
# cli; a wing includes only its own headers and common's (make check-wings).
COMMON_SRC := util log conf code url keys hash paths slot slotmap cidr json html
DAEMON_SRC := privacy hll tally reply batch spool rconn sentinel route links offload flush access \
	proxyproto realip lists burst held uniq http handler \
	metrics admin dashread dashjson dashhtml dashboard priv worker server main
CLI_SRC := rnodes store csv ctl output links import stats markers prune wraptext wraphtml wraplist wrapcodes wrap main

# Lua scripts are files (src/WING/lua/NAME.lua), embedded as the C string
# lua_NAME by scripts/embed-lua.
DAEMON_LUA := flush
CLI_LUA := link_set link_rm prune

COMMON_OBJ := $(COMMON_SRC:%=$(BUILD)/obj/common/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%=$(BUILD)/obj/daemon/%.o) $(DAEMON_LUA:%=$(BUILD)/obj/daemon/lua/%.lua.o)
CLI_OBJ := $(CLI_SRC:%=$(BUILD)/obj/cli/%.o) $(CLI_LUA:%=$(BUILD)/obj/cli/lua/%.lua.o)

UNIT_TESTS := test_conf test_hll test_code test_url test_privacy test_keys test_tally test_reply test_spool test_csv \
	test_access test_cache test_flush test_rconn test_slot test_cidr test_realip test_burst test_wrapfind
UNIT_BIN := $(UNIT_TESTS:%=$(BUILD)/tests/%)
E2E_BIN := $(BUILD)/tests/test_e2e $(BUILD)/tests/test_http $(BUILD)/tests/test_links $(BUILD)/tests/test_hopctl $(BUILD)/tests/test_ops \
	$(BUILD)/tests/test_scripts $(BUILD)/tests/test_scanners $(BUILD)/tests/test_uniques \
	$(BUILD)/tests/test_dashboard $(BUILD)/tests/test_browser $(BUILD)/tests/test_wrap
FAULT_BIN := $(BUILD)/tests/test_faults
ABUSE_BIN := $(BUILD)/tests/test_abuse
OVERFLOW_BIN := $(BUILD)/tests/test_overflow
SHIM := $(BUILD)/tests/fault_shim.so
CLUSTER_BIN := $(BUILD)/tests/test_cluster $(BUILD)/tests/test_sentinel

.SECONDARY:
.PHONY: all clean run test test-faults test-cluster deps check-deps check-wings unit e2e fmt bench \
	bench-import bench-cluster bench-scanners bench-retention bench-uniques bench-wrap fuzz install \
	uninstall install-files deb test-deb
all: $(BUILD)/hopcount $(BUILD)/hopctl

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(E) "  CC      $<"
	$(Q)$(CC) $(INC_$(firstword $(subst /, ,$*))) $(BASE_CFLAGS) -c -o $@ $<

$(BUILD)/gen/%.lua.c: src/%.lua scripts/embed-lua
	@mkdir -p $(@D)
	$(Q)scripts/embed-lua $< lua_$(notdir $*) >$@

$(BUILD)/obj/%.lua.o: $(BUILD)/gen/%.lua.c
	@mkdir -p $(@D)
	$(E) "  CC      $<"
	$(Q)$(CC) $(INC_$(firstword $(subst /, ,$*))) $(BASE_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c | $(BUILD)/tests/unit $(BUILD)/tests/e2e $(BUILD)/tests/faults \
		$(BUILD)/tests/cluster
	$(E) "  CC      $<"
	$(Q)$(CC) $(INC_tests) $(BASE_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/hopcount: $(COMMON_OBJ) $(DAEMON_OBJ)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/hopctl: $(COMMON_OBJ) $(CLI_OBJ)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) $(CLI_LIBS)

# A unit test links common and the modules it tests, nothing else.
$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(COMMON_OBJ)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

$(BUILD)/tests/test_privacy: $(BUILD)/obj/daemon/privacy.o
$(BUILD)/tests/test_tally: $(BUILD)/obj/daemon/tally.o $(BUILD)/obj/daemon/hll.o
$(BUILD)/tests/test_reply: $(BUILD)/obj/daemon/reply.o
$(BUILD)/tests/test_spool: $(BUILD)/obj/daemon/spool.o $(BUILD)/obj/daemon/batch.o $(BUILD)/obj/daemon/tally.o $(BUILD)/obj/daemon/hll.o
$(BUILD)/tests/test_access: $(BUILD)/obj/daemon/access.o
$(BUILD)/tests/test_realip: $(BUILD)/obj/daemon/realip.o $(BUILD)/obj/daemon/proxyproto.o
$(BUILD)/tests/test_burst: $(BUILD)/obj/daemon/burst.o $(BUILD)/obj/daemon/held.o
# Redis's HyperLogLog cells, against a real redis-server.
$(BUILD)/tests/test_hll: $(BUILD)/obj/daemon/hll.o $(BUILD)/tests/e2e/harness.o
$(BUILD)/tests/test_csv: $(BUILD)/obj/cli/csv.o
$(BUILD)/tests/test_wrapfind: $(addprefix $(BUILD)/obj/cli/,wraptext.o wraphtml.o wraplist.o)
$(BUILD)/tests/test_wrapfind: LDLIBS += $(CLI_LIBS)
# The link cache's state machine, against a real redis-server.
$(BUILD)/tests/test_cache: $(addprefix $(BUILD)/obj/daemon/,links.o rconn.o route.o \
	sentinel.o metrics.o) $(BUILD)/tests/e2e/harness.o
$(BUILD)/tests/test_rconn: $(BUILD)/obj/daemon/rconn.o $(BUILD)/tests/e2e/harness.o
# Cluster key slots, against a real cluster-enabled redis-server.
$(BUILD)/tests/test_slot: $(BUILD)/tests/e2e/harness.o
# The flusher's, likewise.
$(BUILD)/tests/test_flush: $(addprefix $(BUILD)/obj/daemon/,flush.o rconn.o route.o sentinel.o \
	tally.o hll.o batch.o metrics.o spool.o offload.o lua/flush.lua.o) $(BUILD)/tests/e2e/harness.o

$(E2E_BIN): $(BUILD)/tests/test_%: $(BUILD)/tests/e2e/test_%.o $(BUILD)/tests/e2e/harness.o $(COMMON_OBJ)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

$(BUILD)/tests/test_browser $(BUILD)/tests/test_wrap: $(BUILD)/tests/e2e/cdp.o

$(BUILD)/tests/test_abuse: $(BUILD)/tests/faults/test_abuse.o $(BUILD)/tests/e2e/harness.o $(COMMON_OBJ)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# The overflow suite writes spool files of its own.
$(OVERFLOW_BIN): $(BUILD)/tests/faults/test_overflow.o $(BUILD)/tests/e2e/harness.o $(COMMON_OBJ) \
		$(BUILD)/obj/daemon/spool.o $(BUILD)/obj/daemon/batch.o $(BUILD)/obj/daemon/tally.o $(BUILD)/obj/daemon/hll.o
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# A real Redis Cluster (and Sentinel) under load: tests/cluster.
$(CLUSTER_BIN): $(BUILD)/tests/%: $(BUILD)/tests/cluster/%.o $(BUILD)/tests/cluster/cluster.o \
		$(BUILD)/tests/e2e/harness.o $(COMMON_OBJ)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# A fault shim (LD_PRELOAD), built without sanitizers: a slow fsync, a
# failing getrandom.
$(SHIM): tests/faults/fault_shim.c | $(BUILD)/tests/faults
	$(E) "  CC      $@"
	$(Q)$(CC) -std=c11 -O2 $(WARN) -fPIC -shared -o $@ $< -ldl

$(FAULT_BIN): $(BUILD)/tests/faults/test_faults.o $(BUILD)/tests/e2e/harness.o $(COMMON_OBJ)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

$(BUILD)/tests/unit $(BUILD)/tests/e2e $(BUILD)/tests/faults $(BUILD)/tests/cluster:
	$(Q)mkdir -p $@

# make install PREFIX=/usr/local DESTDIR=...: the programs (linked with the
# installed conf path), the conf (never over an existing one) with installed
# paths, bots.txt, man pages and the systemd unit.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
CONFDIR ?= $(SYSCONFDIR)/hopcount
STATEDIR ?= /var/lib/hopcount
UNITDIR ?= $(PREFIX)/lib/systemd/system
INST := $(BUILD)/install
INSTALL ?= install

$(INST)/paths.o: src/common/paths.c include/common/paths.h debian/changelog
	@mkdir -p $(INST)
	$(Q)$(CC) $(INC_common) $(BASE_CFLAGS) -DHOPCOUNT_CONF_DEFAULT='"$(CONFDIR)/hopcount.conf"' \
		-DHOPCOUNT_VERSION='"$(VERSION)"' -c -o $@ $<

$(INST)/hopcount: $(filter-out $(BUILD)/obj/common/paths.o,$(COMMON_OBJ)) $(DAEMON_OBJ) \
		$(INST)/paths.o
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(INST)/hopctl: $(filter-out $(BUILD)/obj/common/paths.o,$(COMMON_OBJ)) $(CLI_OBJ) $(INST)/paths.o
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) $(CLI_LIBS)

# The conf and unit with their installed paths.
$(INST)/hopcount.conf: conf/hopcount.conf Makefile
	@mkdir -p $(INST)
	$(Q)sed -e 's|^bots_file = .*|bots_file = $(CONFDIR)/bots.txt|' \
		-e 's|^scanners_file = .*|scanners_file = $(CONFDIR)/scanners.txt|' \
		-e 's|^spool_dir = .*|spool_dir = $(STATEDIR)/spool|' $< >$@

# SERVICE_USER=NAME (the Debian package's): the units run as that system
# user instead of a dynamic one.
$(INST)/hopcount.service $(INST)/hopcount-prune.service $(INST)/hopcount-prune.timer: \
		$(INST)/%: conf/% Makefile
	@mkdir -p $(INST)
	$(Q)sed -e 's|/usr/local/sbin|$(SBINDIR)|g' -e 's|/usr/local/bin|$(BINDIR)|g' \
		-e 's|/usr/local/etc/hopcount|$(CONFDIR)|g' \
		$(if $(SERVICE_USER),-e 's|^DynamicUser=yes$$|User=$(SERVICE_USER)\nGroup=$(SERVICE_USER)|') \
		$< >$@

# Both builds carry the version (debian/changelog's).
$(BUILD)/obj/common/paths.o $(BUILD)/tests/e2e/test_ops.o: debian/changelog
$(BUILD)/obj/common/paths.o $(BUILD)/tests/e2e/test_ops.o: \
	BASE_CFLAGS += -DHOPCOUNT_VERSION='"$(VERSION)"'

# The man pages with the version in their title line.
$(INST)/hopctl.1 $(INST)/hopcount.conf.5 $(INST)/hopcount.8: $(INST)/%: man/% debian/changelog
	@mkdir -p $(INST)
	$(Q)sed -e '1s/"hopcount"/"hopcount $(VERSION)"/' $< >$@

# What install writes, built (debian/rules builds it, then installs).
install-files: $(INST)/hopcount $(INST)/hopctl $(INST)/hopcount.conf $(INST)/hopcount.service \
	$(INST)/hopcount-prune.service $(INST)/hopcount-prune.timer $(INST)/hopctl.1 \
	$(INST)/hopcount.conf.5 $(INST)/hopcount.8

install: install-files
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(CONFDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 0755 $(INST)/hopcount $(DESTDIR)$(SBINDIR)/hopcount
	$(INSTALL) -m 0755 $(INST)/hopctl $(DESTDIR)$(BINDIR)/hopctl
	@if [ -e $(DESTDIR)$(CONFDIR)/hopcount.conf ]; then \
		echo "install: keeping $(DESTDIR)$(CONFDIR)/hopcount.conf (the new default: $(INST)/hopcount.conf)"; \
	else \
		$(INSTALL) -m 0644 $(INST)/hopcount.conf $(DESTDIR)$(CONFDIR)/hopcount.conf; \
	fi
	$(INSTALL) -m 0644 conf/bots.txt $(DESTDIR)$(CONFDIR)/bots.txt
	$(INSTALL) -m 0644 conf/scanners.txt $(DESTDIR)$(CONFDIR)/scanners.txt
	$(INSTALL) -m 0644 $(INST)/hopctl.1 $(DESTDIR)$(MANDIR)/man1/hopctl.1
	$(INSTALL) -m 0644 $(INST)/hopcount.conf.5 $(DESTDIR)$(MANDIR)/man5/hopcount.conf.5
	$(INSTALL) -m 0644 $(INST)/hopcount.8 $(DESTDIR)$(MANDIR)/man8/hopcount.8
	$(INSTALL) -m 0644 $(INST)/hopcount.service $(DESTDIR)$(UNITDIR)/hopcount.service
	$(INSTALL) -m 0644 $(INST)/hopcount-prune.service $(DESTDIR)$(UNITDIR)/hopcount-prune.service
	$(INSTALL) -m 0644 $(INST)/hopcount-prune.timer $(DESTDIR)$(UNITDIR)/hopcount-prune.timer

# The conf (and bots.txt and scanners.txt, which it may have changed) stay, as
# Debian's remove does.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/hopcount $(DESTDIR)$(BINDIR)/hopctl \
		$(DESTDIR)$(MANDIR)/man1/hopctl.1 $(DESTDIR)$(MANDIR)/man5/hopcount.conf.5 \
		$(DESTDIR)$(MANDIR)/man8/hopcount.8 $(DESTDIR)$(UNITDIR)/hopcount.service \
		$(DESTDIR)$(UNITDIR)/hopcount-prune.service $(DESTDIR)$(UNITDIR)/hopcount-prune.timer
	@echo "uninstall: $(DESTDIR)$(CONFDIR) and $(STATEDIR) are kept"

# Installs what is missing when run as root; otherwise names the command.
deps:
	$(Q)scripts/install-deps

check-deps:
	$(Q)scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps

run: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/run

unit: $(UNIT_BIN)
e2e: $(BUILD)/hopcount $(BUILD)/hopctl $(E2E_BIN)

test: check-deps check-wings
	$(Q)$(MAKE) --no-print-directory $(BUILD)/hopcount $(BUILD)/hopctl $(UNIT_BIN) $(E2E_BIN) \
		$(INST)/hopcount $(INST)/hopctl
	$(Q)HOPCOUNT_BIN=$(BUILD)/hopcount HOPCTL_BIN=$(BUILD)/hopctl tests/run $(UNIT_BIN) $(E2E_BIN)

# A wing includes its own headers and common's, never another wing's.
check-wings:
	$(Q)scripts/check-wings

# Redis and hopcount misbehaving under load (counts must stay exact), and abuse.
test-faults: check-deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/hopcount $(FAULT_BIN) $(ABUSE_BIN) \
		$(OVERFLOW_BIN) $(SHIM)
	$(Q)HOPCOUNT_BIN=$(BUILD)/hopcount HC_FAULT_SHIM=$(SHIM) \
		tests/run $(FAULT_BIN) $(ABUSE_BIN) $(OVERFLOW_BIN)

# Redis Cluster and Sentinel, real servers, under load (docs/scaling.md).
test-cluster: check-deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/hopcount $(BUILD)/hopctl $(CLUSTER_BIN)
	$(Q)HOPCOUNT_BIN=$(BUILD)/hopcount HOPCTL_BIN=$(BUILD)/hopctl tests/run $(CLUSTER_BIN)

# libFuzzer drivers (clang), each run FUZZ_SECONDS on a copy of its seed corpus.
FUZZ_SECONDS ?= 60
FUZZERS := url request conf csv proxy wrap
FUZZ_SRC := $(COMMON_SRC:%=src/common/%.c)
FUZZ_CFLAGS = $(INC_tests) -std=c11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined $(PKG_CFLAGS)

# What each driver needs beyond common: fuzz_request drives the daemon's
# own HTTP input path.
FUZZ_EXTRA_request := $(addprefix src/daemon/,http.c metrics.c access.c privacy.c reply.c \
	realip.c proxyproto.c)
FUZZ_EXTRA_url := src/daemon/reply.c
FUZZ_EXTRA_csv := src/cli/csv.c
FUZZ_EXTRA_proxy := $(addprefix src/daemon/,proxyproto.c realip.c)
FUZZ_EXTRA_wrap := $(addprefix src/cli/,wraptext.c wraphtml.c wraplist.c)

.SECONDEXPANSION:
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRC) $$(FUZZ_EXTRA_$$*) $(wildcard include/*/*.h)
	@mkdir -p build/fuzz
	$(E) "  FUZZ-CC $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC) $(FUZZ_EXTRA_$*) $(LDLIBS_ALL) $(CLI_LIBS)

fuzz: $(FUZZERS:%=build/fuzz/fuzz_%)
	$(Q)for f in $(FUZZERS); do \
		rm -rf build/fuzz/corpus-$$f && cp -r tests/fuzz/corpus/$$f build/fuzz/corpus-$$f && \
		echo "fuzz: $$f for $(FUZZ_SECONDS) s" && \
		build/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
			build/fuzz/corpus-$$f tests/fuzz/corpus/$$f $$([ $$f = wrap ] && echo tests/e2e/mail) \
			2>build/fuzz/$$f.log || \
			{ tail -40 build/fuzz/$$f.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^stat::peak_rss' build/fuzz/$$f.log; \
	done

# The Debian package, hopcount_VERSION-REV_ARCH.deb in build/ (needs
# scripts/install-deps --deb): dpkg-buildpackage on the tree, debian/rules
# calling this Makefile with the installed paths.
deb:
	$(Q)scripts/install-deps --deb --check >/dev/null 2>&1 || scripts/install-deps --deb
	$(Q)dpkg-buildpackage -b -us -uc
	$(Q)mkdir -p build && mv ../hopcount_$(VERSION)-*.deb ../hopcount-dbgsym_$(VERSION)-*.deb \
		../hopcount_$(VERSION)-*.buildinfo \
		../hopcount_$(VERSION)-*.changes build/
	$(Q)ls build/hopcount_$(VERSION)-*.deb

# The package built, linted, installed, upgraded under load, removed and
# purged on this machine (root; CI runs it): tests/deb/run.
test-deb:
	$(Q)tests/deb/run

# The benchmark (not part of make test): needs scripts/install-deps --bench.
bench: all
	$(Q)scripts/install-deps --bench --check >/dev/null 2>&1 || scripts/install-deps --bench
	$(Q)loadtest/run

# hopctl import of 1,000,000 rows into a private Redis (not part of make test).
bench-cluster: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)loadtest/cluster

bench-import: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)loadtest/import

# Human vs scanner accuracy on a replayed newsletter trace (not part of make test).
$(BUILD)/loadtest/trace: loadtest/src/trace.c loadtest/src/agents.h
	@mkdir -p $(@D)
	$(E) "  CC      $@"
	$(Q)$(CC) -std=c11 -Wall -Wextra -Werror -O2 -o $@ $<

# Redis memory per link over time, with and without retention (not part of make test).
bench-retention: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)loadtest/retention

bench-scanners: check-deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/loadtest/trace
	$(Q)loadtest/scanners

# Unique followers against known distinct clients (not part of make test).
$(BUILD)/loadtest/clients: loadtest/src/clients.c loadtest/src/agents.h
	@mkdir -p $(@D)
	$(E) "  CC      $@"
	$(Q)$(CC) -std=c11 -Wall -Wextra -Werror -O2 -o $@ $<

bench-uniques: check-deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/loadtest/clients
	$(Q)loadtest/uniques

# hopctl wrap of a 2 MB newsletter with 5,000 links (not part of make test).
bench-wrap: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)loadtest/wrap

fmt:
	clang-format -i src/*/*.c include/*/*.h tests/unit/*.c tests/e2e/*.c tests/e2e/*.h tests/faults/*.c

clean:
	rm -rf build

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/tests/*/*.d)
