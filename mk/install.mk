# make install, make uninstall: both programs, their man pages and the bash
# completion, under $(DESTDIR)$(PREFIX) (GNU conventions: DESTDIR is for
# staged installs and packaging, PREFIX is where they will live).
#
#   make install                                  into /usr/local
#   make install PREFIX=/usr DESTDIR=/tmp/pkg     staged, for a package
#   make uninstall PREFIX=... DESTDIR=...         the same paths again
#
# Directories are created but never removed: they are shared with others.
# The completion file serves both programs; bash-completion loads a
# completion by the command's name, hence the meisa-sandbox link.

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
MAN1DIR     ?= $(MANDIR)/man1
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL     ?= install
# Unstripped by default (-g builds); INSTALL_PROGRAM='install -s' strips.
INSTALL_PROGRAM ?= $(INSTALL) -m 755
INSTALL_DATA    ?= $(INSTALL) -m 644

INSTALL_PROGRAMS := meisa-bulk meisa-sandbox
INSTALL_MANPAGES := man/meisa-bulk.1 man/meisa-sandbox.1

.PHONY: install uninstall

install: all
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MAN1DIR)' \
		'$(DESTDIR)$(BASHCOMPDIR)'
	$(INSTALL_PROGRAM) $(addprefix $(O)/,$(INSTALL_PROGRAMS)) \
		'$(DESTDIR)$(BINDIR)/'
	$(INSTALL_DATA) $(INSTALL_MANPAGES) '$(DESTDIR)$(MAN1DIR)/'
	$(INSTALL_DATA) completions/meisa-bulk.bash \
		'$(DESTDIR)$(BASHCOMPDIR)/meisa-bulk'
	ln -sf meisa-bulk '$(DESTDIR)$(BASHCOMPDIR)/meisa-sandbox'

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/meisa-bulk' \
		'$(DESTDIR)$(BINDIR)/meisa-sandbox' \
		'$(DESTDIR)$(MAN1DIR)/meisa-bulk.1' \
		'$(DESTDIR)$(MAN1DIR)/meisa-sandbox.1' \
		'$(DESTDIR)$(BASHCOMPDIR)/meisa-bulk' \
		'$(DESTDIR)$(BASHCOMPDIR)/meisa-sandbox'
