# Viperblock build. Every target finds a JDK >= 21 by itself (scripts/find-jdk).
SHELL := /bin/bash
JAVA_HOME := $(shell scripts/find-jdk)
ifeq ($(JAVA_HOME),)
$(error no JDK >= 21 found; see the message above)
endif
export JAVA_HOME
export PATH := $(JAVA_HOME)/bin:$(PATH)
MVN := mvn -B -ntp

.PHONY: build test bench bench-quick bench-nbd clean campaign-kill campaign-storefaults campaign-fuzz campaign-corrupt

build:
	$(MVN) -DskipTests package

test:
	$(MVN) verify

bench: build
	scripts/bench
	scripts/bench_nbd.py
	scripts/bench_s3

bench-quick: build
	BENCH_QUICK=1 scripts/bench
	scripts/bench_nbd.py --quick
	BENCH_QUICK=1 scripts/bench_s3

# Only the NBD comparison (docs/PERFORMANCE.md): make bench-nbd BENCH_NBD_ARGS="--quick --rows rw4k,w1m"
BENCH_NBD_ARGS ?=
bench-nbd: build
	scripts/bench_nbd.py $(BENCH_NBD_ARGS)

clean:
	$(MVN) -q clean

.PHONY: run
# Serves the 1 GiB volume "demo" from the embedded default store (data/ under the project).
run:
	@echo "building..."; $(MVN) -q -DskipTests package
	@bin/vblock info demo >/dev/null 2>&1 || bin/vblock create demo --size 1G
	@echo "attach with: qemu-img info nbd://127.0.0.1:10809/demo   (Ctrl-C stops the server)"
	@bin/vblock serve demo

# Durability campaigns (docs/RELIABILITY.md); a short run of each is part of make test.
CYCLES ?= 100
STORES ?= file,s3
ROUNDS ?= 10
POINTS ?= 2000
IT := -Dtest=NONE -Dsurefire.failIfNoSpecifiedTests=false -Dfailsafe.failIfNoSpecifiedTests=false

# kill -9 of vblock serve under an NBD write load, restart, verify: make campaign-kill CYCLES=1000 STORES=file
campaign-kill:
	$(MVN) -pl viperblock-cli -am verify $(IT) -Dit.test=KillCampaignIT -Dcampaign.cycles=$(CYCLES) -Dcampaign.stores=$(STORES)
	@cat viperblock-cli/target/campaign-kill-*.json

# store faults (5xx, 507, latency, dropped connections, lost answers) under an NBD load, then nbdkit's error/delay filters: make campaign-storefaults ROUNDS=10
campaign-storefaults:
	$(MVN) -pl viperblock-cli -am verify $(IT) -Dit.test=StoreFaultCampaignIT -Dcampaign.rounds=$(ROUNDS)
	@cat viperblock-cli/target/campaign-storefaults.json

# Campaigns 2 and 4 run surefire tests; the other tests of the modules built are skipped.
UT := -Dsurefire.failIfNoSpecifiedTests=false -Dit.test=NONE -Dfailsafe.failIfNoSpecifiedTests=false

.PHONY: campaign-powerloss campaign-diskfull

# power loss on CrashFs at random points of writes, recovery, close and takeover: make campaign-powerloss POINTS=10000
campaign-powerloss:
	$(MVN) -pl viperblock-core verify $(UT) -Dtest=VolumePowerLossTest -Dcampaign.powerloss.points=$(POINTS)
	@cat viperblock-core/target/campaign-powerloss-*.json

# the WAL's own small ext4 fills up under NBD writes, space is freed, writes go on (needs root): make campaign-diskfull ROUNDS=50
campaign-diskfull:
	$(MVN) -pl viperblock-nbd -am verify $(UT) -Dtest=DiskFullTest -Dcampaign.diskfull.rounds=$(ROUNDS)
	@cat viperblock-nbd/target/campaign-diskfull.json

# hostile NBD clients against one server while a good client checks its data: make campaign-fuzz CASES=100000
campaign-fuzz:
	$(MVN) -pl viperblock-nbd -am verify -Dtest=FuzzCampaignTest -Dsurefire.failIfNoSpecifiedTests=false -DskipITs -Dcampaign.cases=$(or $(CASES),3000) $(if $(SEED),-Dcampaign.seed=$(SEED))
	@cat viperblock-nbd/target/campaign-fuzz.json

# bytes flipped in WAL segments, chunks, map deltas and checkpoints, then open and read all: make campaign-corrupt CASES=2000
campaign-corrupt:
	$(MVN) -pl viperblock-core verify -Dtest=CorruptionCampaignTest -Dsurefire.failIfNoSpecifiedTests=false -DskipITs -Dcampaign.cases=$(or $(CASES),60) $(if $(SEED),-Dcampaign.seed=$(SEED))
	@cat viperblock-core/target/campaign-corrupt.json
