# corral — two commands matter: `make demo` and `make check`.
SHELL := /bin/bash
PREFIX ?= /usr/local
SWIFT ?= swift
APT_PACKAGES := user-mode-linux uml-utilities rsync libseccomp-dev libssl-dev pkg-config e2fsprogs \
                util-linux qemu-utils python3 tmux hyperfine attr kmod patchelf

.PHONY: all deps kernels build release check test demo bench fuzz clean install uninstall completions install-check \
        deb deb-deps deb-check ansible-check

all: build

# groff: DocumentationTests check every man page with groff -ww.
APT_PACKAGES += groff
# zsh, fish: ShellCompletionTests load corral's completions into them on a terminal (tmux).
APT_PACKAGES += zsh fish
# debootstrap: GuestTests build a Debian minbase guest (Tests/Fixtures/make-guest.sh,
# from apt's configured mirror, cached in .build/guest).
APT_PACKAGES += debootstrap
# strace: BootKernelTests checks which files the end of a boot opens; scripts/journey-opens.
APT_PACKAGES += strace
# mount: losetup, for BlockDeviceBackingTests' real block device (a loop device over a scratch file).
APT_PACKAGES += mount

# Installs what corral and its tests need on a fresh Debian machine. Idempotent:
# runs apt only when something is missing.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build

# trixie's 6.12 and sid's 7.2 user-mode-linux under .build/kernels/, each with
# its own libc (scripts/kernels; cached, the host's apt state is untouched).
kernels: deps
	scripts/kernels

release: deps
	$(SWIFT) build -c release

# The kernel-facing suites make check runs again on each newer kernel
# (boot, sandbox, its limits, profiles and jail escapes, maint and its dry run, reliability, the quirk and the COW
# vectors the kernel writes); everything else is kernel-independent.
KERNEL_SUITES ?= BootKernelTests|UserspaceModeTests|KernelSandboxTests|KernelLimitsTests|CgroupV2Tests|KernelProfileTests|JailEscapeTests|JailRootTests|DenialTableTests|MaintKernelTests|MaintDryRunTests|ReliabilityTests|QuirkTests|COWVectorTests
NEWER_KERNELS := $(CURDIR)/.build/kernels/6.12/bin/linux.uml $(CURDIR)/.build/kernels/7.2/bin/linux.uml

# The whole test suite on bookworm's /usr/bin/linux.uml (6.1), then the
# kernel suites on trixie's 6.12 and sid's 7.2 (CORRAL_TEST_KERNEL). Kernel
# tests boot the kernels for real; with CORRAL_REQUIRE_UML=1 (CI) a missing
# kernel fails them instead of skipping.
check: deps kernels
	$(SWIFT) build
	$(SWIFT) test --no-parallel
	for kernel in $(NEWER_KERNELS); do \
	  echo "== kernel suites on $$kernel"; \
	  CORRAL_TEST_KERNEL=$$kernel $(SWIFT) test --skip-build --no-parallel --filter '$(KERNEL_SUITES)' || exit 1; \
	done
	scripts/fuzz 30

test: check

demo: release
	scripts/demo

bench: release
	scripts/bench

# Longer fuzzing of the header decoder: make fuzz FUZZ_SECONDS=600
FUZZ_SECONDS ?= 300
fuzz:
	scripts/fuzz $(FUZZ_SECONDS)

# The release binary, man pages, shell completions and share/corral
# (hostfs-init, templates, VERSION) under $(DESTDIR)$(PREFIX); the installed
# corral finds its data next to itself, from any directory. Details and the
# exact layout: scripts/install.
install: release
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' scripts/install install .build/release/corral

# Removes exactly what the last install into $(DESTDIR)$(PREFIX) wrote (its
# share/corral/install-manifest).
uninstall:
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' scripts/install uninstall

# bash, zsh and fish completions in .build/completions (install makes its
# own from the release binary).
completions: build
	scripts/install completions .build/debug/corral .build/completions

# A staged install of the debug build into a temporary directory: the binary
# must find its hostfs-init from /, report its commit, and uninstall cleanly.
install-check: build
	scripts/install check .build/debug/corral

# The Debian package corral_VERSION_amd64.deb: the release binary with the
# Swift runtime linked in, man pages, completions and share/corral under /usr;
# Depends from dpkg-shlibdeps. Details: scripts/deb.
deb: deps deb-deps
	scripts/deb build

# What building and testing the package needs (debootstrap, lintian, dpkg-dev, …).
deb-deps:
	scripts/deb deps

# lintian on the package, then apt-get install ./corral_….deb into fresh
# debootstrapped bookworm and trixie roots without Swift and use corral there
# (the roots are cached under .build/deb-root/SUITE; DEB_SUITES=bookworm for one).
deb-check: deb
	scripts/deb check

# The Ansible collection (contrib/ansible) against 3 local "hosts" with 2
# guests each: install-modules twice (changed=0 the second time), one broken
# guest failing only its host, corral_cow flatten with --check. Boots linux.uml.
ansible-check: build
	@dpkg-query -W -f='$${Status}\n' ansible-core 2>/dev/null | grep -q 'install ok installed' || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq ansible-core >/dev/null; }
	contrib/ansible/tests/run .build/debug/corral

clean:
	rm -rf .build
