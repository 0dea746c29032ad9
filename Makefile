# Two commands set everything up: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CITY ?= heping
PORT ?= 8000

.PHONY: demo test bench clean

VENDOR := admin_ui/static/vendor

$(STAMP): pyproject.toml $(VENDOR)/.installed
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# htmx, ECharts and Leaflet (with leaflet.heat) from their npm packages, served by the UI itself (no CDN on a closed network)
# (axe-core stays in node_modules: the public site's accessibility test injects it, no page serves it)
$(VENDOR)/.installed: admin_ui/package.json admin_ui/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to install the admin UI's htmx and ECharts"; exit 1; }
	cd admin_ui && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp admin_ui/node_modules/htmx.org/dist/htmx.min.js admin_ui/node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	cp -r admin_ui/node_modules/leaflet/dist/leaflet.js admin_ui/node_modules/leaflet/dist/leaflet.css admin_ui/node_modules/leaflet/dist/images admin_ui/node_modules/leaflet.heat/dist/leaflet-heat.js $(VENDOR)/
	touch $@

# a bundled city with a simulated month in demo/, served with a login per role
demo: $(STAMP)
	$(BIN)/gridcase demo --city $(CITY) --port $(PORT) $(DEMO_ARGS)

# one pytest worker a core, a test file each (its module fixtures are built once): 14.5 minutes
# on CI's 2-core machine, 15.5 to 22 on this project's own (a third worker gained nothing)
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache admin_ui/node_modules $(VENDOR)
