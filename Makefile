# qnat-bpf: one non-recursive Makefile.  `make V=1` shows full commands.
BUILD      ?= build
CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIBS_PC   := libbpf libnl-3.0 libnl-route-3.0 libelf zlib libxml-2.0
PC_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(LIBS_PC) 2>/dev/null)
PC_LIBS   := $(shell $(PKG_CONFIG) --libs $(LIBS_PC) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter
CFLAGS  ?= -O2 -g
# SANITIZE=1: ASan + UBSan.  Static runtimes: with gcc's shared libubsan
# next to libasan, UBSan ignores log_path and reports only on stderr, which
# the daemonised supervisor does not have (tests/run.sh collects the logs).
ifeq ($(SANITIZE),1)
override CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer
override LDFLAGS += -fsanitize=address,undefined -static-libasan -static-libubsan
endif
# QNAT_DEFS: -D options for the BPF programs and the controller alike, for
# build variants (tests/integ/test_upgrade.sh builds a second one).
QNAT_DEFS ?=
ALL_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE $(QNAT_DEFS) -I$(BUILD) -Imaps -Iloader $(PC_CFLAGS)
# What everything was compiled and linked with: objects depend on it, so
# switching SANITIZE or CFLAGS rebuilds them instead of mixing builds.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW   := $(CC) $(ALL_CFLAGS) $(LDFLAGS)

BPF_ARCH_INC := /usr/include/$(shell $(CC) -dumpmachine)
BPF_CFLAGS   := -g -O2 -target bpf -Wall -Werror $(QNAT_DEFS) -Imaps -Ibpf -I$(BPF_ARCH_INC)

BPF_SRC   := bpf/qnat.bpf.c
BPF_HDRS  := $(wildcard bpf/lib/*.h) $(wildcard maps/*.h)
BPF_OBJ   := $(BUILD)/qnat.bpf.o
SKEL      := $(BUILD)/qnat.skel.h

LOADER_SRC := $(wildcard loader/*.c)
LOADER_OBJ := $(patsubst loader/%.c,$(BUILD)/loader/%.o,$(LOADER_SRC))
LOADER_HDR := $(wildcard loader/*.h) $(wildcard maps/*.h)

UNIT_SRC  := $(wildcard tests/unit/*.c)
TOOLS     := $(BUILD)/taprelay $(BUILD)/flowgen $(BUILD)/fragsend $(BUILD)/xdp_pass.bpf.o

# The benchmark's helper: its own BPF programs (generator, sink, null
# forwarder, wrappers, the XDP port prototype) and qbench.
QBENCH_BPF  := $(wildcard tools/bench/*.bpf.c)
QBENCH_BOBJ := $(patsubst tools/bench/%.bpf.c,$(BUILD)/tools/%.bpf.o,$(QBENCH_BPF))
QBENCH_SKEL := $(QBENCH_BOBJ:.bpf.o=.skel.h)
QBENCH_SRC  := $(filter-out $(QBENCH_BPF),$(wildcard tools/bench/*.c))
QBENCH_OBJ  := $(patsubst tools/bench/%.c,$(BUILD)/tools/%.o,$(QBENCH_SRC))

# A failed step (say, bpftool) must not leave a half-written target behind.
.DELETE_ON_ERROR:

.PHONY: all test unit integ bench demo deps clean install uninstall fuzz fuzz-build valgrind
all: $(BUILD)/qnat-bpf $(BUILD)/test_progs $(TOOLS)

$(BUILD) $(BUILD)/loader $(BUILD)/tools:
	$(Q)mkdir -p $@

$(FLAGS_STAMP): FORCE | $(BUILD)
	$(Q)echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' >$@
.PHONY: FORCE

$(BPF_OBJ): $(BPF_SRC) $(BPF_HDRS) $(FLAGS_STAMP) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BPF_OBJ)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name qnat > $@

$(BUILD)/loader/%.o: loader/%.c $(LOADER_HDR) $(SKEL) $(FLAGS_STAMP) | $(BUILD)/loader
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# The build id tells builds apart: an attach by another build upgrades.
$(BUILD)/qnat-bpf: $(LOADER_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -Wl,--build-id=sha1 $^ -o $@ $(PC_LIBS)

# The unit tests link the controller (all but its main) to test its parsers.
$(BUILD)/test_progs: $(UNIT_SRC) $(wildcard tests/unit/*.h) $(SKEL) $(wildcard maps/*.h) $(FLAGS_STAMP) $(filter-out %/main.o,$(LOADER_OBJ))
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit $(UNIT_SRC) $(filter-out %/main.o,$(LOADER_OBJ)) -o $@ $(LDFLAGS) $(PC_LIBS)

$(BUILD)/taprelay: tests/tools/taprelay.c $(FLAGS_STAMP) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@ $(LDFLAGS)

$(BUILD)/flowgen: tests/tools/flowgen.c $(FLAGS_STAMP) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@ $(LDFLAGS)

$(BUILD)/fragsend: tests/tools/fragsend.c $(FLAGS_STAMP) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@ $(LDFLAGS)

$(BUILD)/xdp_pass.bpf.o: tests/tools/xdp_pass.bpf.c | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/tools/%.bpf.o: tools/bench/%.bpf.c tools/bench/bench.h $(BPF_HDRS) | $(BUILD)/tools
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Itools/bench -c $< -o $@

$(BUILD)/tools/%.skel.h: $(BUILD)/tools/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<)) > $@

$(BUILD)/tools/%.o: tools/bench/%.c $(wildcard tools/bench/*.h) $(QBENCH_SKEL) $(SKEL) $(LOADER_HDR) $(FLAGS_STAMP) | $(BUILD)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -I$(BUILD)/tools -Itools/bench -c $< -o $@

.SECONDARY: $(QBENCH_BOBJ) $(QBENCH_SKEL)
$(BUILD)/qbench: $(QBENCH_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(PC_LIBS)

# The fuzzer (tests/fuzz/): libFuzzer drives frames through every program
# with BPF_PROG_TEST_RUN; clang's fuzzer runtime (libclang-rt-*-dev) needed.
# Always ASan + UBSan; the BPF object is the normal one.
FUZZ_SECS   ?= 300
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	       $(WARN) -std=gnu11 -D_GNU_SOURCE -I$(BUILD) -Imaps -Itests/unit $(PC_CFLAGS)
FUZZ_SHARED := tests/fuzz/world.c tests/fuzz/stubs.c tests/unit/fixture.c tests/unit/pkt.c
FUZZ_HDRS   := $(wildcard tests/fuzz/*.h) $(wildcard tests/unit/*.h) $(wildcard maps/*.h) $(SKEL)
FUZZ_BIN    := $(BUILD)/fuzz/qnat_fuzz
FUZZ_SEEDS  := $(BUILD)/fuzz/seeds.stamp
HAVE_LIBFUZZER ?= $(if $(wildcard /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a),1)

$(BUILD)/fuzz:
	$(Q)mkdir -p $@

$(FUZZ_BIN): tests/fuzz/fuzz_qnat.c $(FUZZ_SHARED) $(FUZZ_HDRS) | $(BUILD)/fuzz
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_qnat.c $(FUZZ_SHARED) -o $@ $(PC_LIBS)

$(BUILD)/fuzz/gen_seeds: tests/fuzz/gen_seeds.c $(FUZZ_SHARED) $(FUZZ_HDRS) $(FLAGS_STAMP) | $(BUILD)/fuzz
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit tests/fuzz/gen_seeds.c $(FUZZ_SHARED) -o $@ $(LDFLAGS) $(PC_LIBS)

# The seed corpus, written afresh: real packets of the fuzzing world.
$(FUZZ_SEEDS): $(BUILD)/fuzz/gen_seeds
	$(call msg,GEN,$(BUILD)/fuzz/seeds)
	$(Q)rm -rf $(BUILD)/fuzz/seeds && $(BUILD)/fuzz/gen_seeds $(BUILD)/fuzz/seeds >/dev/null && touch $@

fuzz-build: $(FUZZ_BIN) $(FUZZ_SEEDS)

# make fuzz [FUZZ_SECS=300] [FUZZ_ARGS=...]: the corpus grows in $(BUILD)/fuzz/corpus.
fuzz: fuzz-build
	$(Q)BUILD=$(BUILD) tests/fuzz/fuzz.sh -t $(FUZZ_SECS) -c $(BUILD)/fuzz/corpus $(FUZZ_ARGS)

# The README's test command (as root).  SANITIZE=1: userspace under ASan+UBSan.
test: all $(if $(HAVE_LIBFUZZER),fuzz-build)
	$(Q)SANITIZE=$(SANITIZE) BUILD=$(BUILD) tests/run.sh

# The controller under valgrind: attach, commands, detach, in namespaces of its own.
valgrind: all
	$(Q)tests/valgrind.sh

unit: $(BUILD)/test_progs
	$(Q)$(BUILD)/test_progs

# Installs the Debian packages everything needs (as root).
deps:
	$(Q)tools/install-deps.sh

# The README's first command: install dependencies, build, run the demo.
demo:
	$(Q)tools/install-deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh

# Benchmarks against iptables/nftables on the same topology (as root);
# QUICK=1 for a short development run.  Results in $(BUILD)/bench/.
bench: all $(BUILD)/qbench
	$(Q)QUICK=$(QUICK) OUT=$(BUILD)/bench tools/bench.sh

# A guest's flood of new UDP flows against --ct-full evict and refuse (as
# root; FLOOD_SECS=30, FLOOD_CT_MAX=65536): what the bystanders lose.
.PHONY: flood
flood: all $(BUILD)/qbench
	$(Q)tools/bench/flood.sh

# Flow churn with a fault every 30 s: supervisor kill, upgrade, dnsmasq kill,
# TAP churn, guest flood (as root; not part of
# `make test`): SOAK_SECS=300 by default, at most 600.
.PHONY: soak
soak: all
	$(Q)tests/soak.sh

# make install [PREFIX=/usr/local] [DESTDIR=...]; make uninstall with the same.
SBINDIR    := $(PREFIX)/sbin
MANDIR     := $(PREFIX)/share/man/man8
LIBEXECDIR := $(PREFIX)/libexec/qnat-bpf
COMPLDIR   := $(PREFIX)/share/bash-completion/completions
UNITDIR    ?= $(PREFIX)/lib/systemd/system
CONFDIR    ?= /etc/qnat-bpf
LIBVIRT_HOOKDIR ?= /etc/libvirt/hooks/network.d
INSTALLED  := $(SBINDIR)/qnat-bpf $(MANDIR)/qnat-bpf.8 $(LIBEXECDIR)/qemu-ifup $(COMPLDIR)/qnat-bpf \
	      $(UNITDIR)/qnat-bpf@.service $(CONFDIR)/virbr0.conf.example $(LIBVIRT_HOOKDIR)/qnat-bpf

install: $(BUILD)/qnat-bpf
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 $(BUILD)/qnat-bpf $(DESTDIR)$(SBINDIR)/qnat-bpf
	$(Q)install -D -m 0644 man/qnat-bpf.8 $(DESTDIR)$(MANDIR)/qnat-bpf.8
	$(Q)install -D -m 0755 dist/qemu-ifup $(DESTDIR)$(LIBEXECDIR)/qemu-ifup
	$(Q)install -D -m 0644 dist/qnat-bpf.bash-completion $(DESTDIR)$(COMPLDIR)/qnat-bpf
	$(Q)install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(CONFDIR)
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g' dist/qnat-bpf@.service.in >$(DESTDIR)$(UNITDIR)/qnat-bpf@.service
	$(Q)install -m 0644 dist/virbr0.conf.example $(DESTDIR)$(CONFDIR)/virbr0.conf.example
	$(Q)install -d $(DESTDIR)$(LIBVIRT_HOOKDIR)
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g' dist/libvirt-hook >$(DESTDIR)$(LIBVIRT_HOOKDIR)/qnat-bpf
	$(Q)chmod 0755 $(DESTDIR)$(LIBVIRT_HOOKDIR)/qnat-bpf

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	$(Q)rmdir --ignore-fail-on-non-empty $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(CONFDIR) 2>/dev/null || true

clean:
	$(Q)rm -rf $(BUILD)
