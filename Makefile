# Viperblock build. Every target finds a JDK >= 21 by itself (scripts/find-jdk).
SHELL := /bin/bash
JAVA_HOME := $(shell scripts/find-jdk)
ifeq ($(JAVA_HOME),)
$(error no JDK >= 21 found; see the message above)
endif
export JAVA_HOME
export PATH := $(JAVA_HOME)/bin:$(PATH)
MVN := mvn -B -ntp

.PHONY: build test bench bench-quick bench-nbd clean campaign-kill campaign-storefaults

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
IT := -Dtest=NONE -Dsurefire.failIfNoSpecifiedTests=false -Dfailsafe.failIfNoSpecifiedTests=false

# kill -9 of vblock serve under an NBD write load, restart, verify: make campaign-kill CYCLES=1000 STORES=file
campaign-kill:
	$(MVN) -pl viperblock-cli -am verify $(IT) -Dit.test=KillCampaignIT -Dcampaign.cycles=$(CYCLES) -Dcampaign.stores=$(STORES)
	@cat viperblock-cli/target/campaign-kill-*.json

# store faults (5xx, 507, latency, dropped connections, lost answers) under an NBD load, then nbdkit's error/delay filters: make campaign-storefaults ROUNDS=10
ROUNDS ?= 3
campaign-storefaults:
	$(MVN) -pl viperblock-cli -am verify $(IT) -Dit.test=StoreFaultCampaignIT -Dcampaign.rounds=$(ROUNDS)
	@cat viperblock-cli/target/campaign-storefaults.json
