# The two commands: `make run` (the whole demo) and `make test` (the whole suite).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYBABEL := $(VENV)/bin/pybabel
DOMAINS := core kiosk survey admin
# The folders whose strings go into a domain, when not the folder of the same name
# (core/i18n.py DOMAIN_SOURCES says the same).
SOURCES_admin := admin public api
LANGS := vi en
STAMP := $(VENV)/.installed

.PHONY: run test test-dates test-sqlite test-postgres venv lint fmt bench extract update compile translations clean browser

venv: $(STAMP)
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	touch $(STAMP)

# Compiled catalogs (.mo) are build output, made from the committed .po files.
compile: $(STAMP)
	@for d in $(DOMAINS); do for l in $(LANGS); do \
	  $(PYBABEL) -q compile -D $$d -d translations -l $$l || exit 1; done; done

# Pull every marked string of each area into its template, then merge into both catalogs.
extract: $(STAMP)
	@$(foreach d,$(DOMAINS),\
	  $(PYBABEL) -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	    --project sipas-kiosk -o translations/$(d).pot \
	    $(addsuffix /,$(or $(SOURCES_$(d)),$(d))) || exit 1;)

update: extract
	@for d in $(DOMAINS); do for l in $(LANGS); do \
	  if [ -f translations/$$l/LC_MESSAGES/$$d.po ]; then \
	    $(PYBABEL) -q update -D $$d -i translations/$$d.pot -d translations -l $$l --no-fuzzy-matching --ignore-obsolete; \
	  else \
	    $(PYBABEL) -q init -D $$d -i translations/$$d.pot -d translations -l $$l; fi; done; done

translations: update compile

run: $(STAMP) compile
	$(PY) -m demo.run

test: $(STAMP) compile
	$(PY) -m pytest -q
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "== the same suite on PostgreSQL ($$TEST_DATABASE_URL) =="; \
	  SIPAS_TEST_BACKEND=postgresql $(PY) -m pytest -q -m "not browser"; \
	fi

# Proof that the suite does not depend on the day it runs (libfaketime; slow, not part of CI).
test-dates: $(STAMP) compile
	tests/run_on_dates.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) compile
	$(PY) -m bench

clean:
	rm -rf instance/*.db* .pytest_cache
