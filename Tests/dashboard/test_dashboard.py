#!/usr/bin/env python3
"""Real-browser test of the Tributary web dashboard (headless Chromium through Selenium).

Drives the page as a person would and checks it against the REST API:

  1. topology   — at 1280x800 the page shows every combiner and client the REST API lists;
  2. session    — a session started from the page's form runs to the end; the page shows the
                  same number of finished rounds and the same final accuracy as the REST API;
  3. liveness   — after `scripts/local-network.sh kill client-0`, that client's node turns
                  stale/offline on the page;
  4. keyboard   — the controls are real buttons/links/inputs with labels, and Tab reaches
                  the session form's start button;
  5. phone      — at 390x844 every main section is visible and nothing overflows sideways;
  6. console    — the browser logged no SEVERE console message during all of the above.

Environment: DASHBOARD_URL (http://127.0.0.1:PORT/dashboard/), CONTROLLER_URL, RUN_DIR (the
scripts/local-network.sh run directory), ARTIFACTS (screenshots go there); optional ROUNDS (5),
SESSION_TIMEOUT (180 s), LIVENESS_TIMEOUT (60 s), CHROMIUM (/usr/bin/chromium), CHROMEDRIVER
(/usr/bin/chromedriver). Prints one PASS/FAIL line per check and, last, "N passed, M failed";
exits 1 when anything failed.
"""

import json
import os
import subprocess
import sys
import time
import traceback
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

DASHBOARD_URL = os.environ.get("DASHBOARD_URL", "")
CONTROLLER_URL = os.environ.get("CONTROLLER_URL", "").rstrip("/")
RUN_DIR = os.environ.get("RUN_DIR", "")
ARTIFACTS = os.environ.get("ARTIFACTS", "run/dashboard-artifacts")
ROUNDS = int(os.environ.get("ROUNDS", "5"))
SESSION_TIMEOUT = float(os.environ.get("SESSION_TIMEOUT", "180"))
LIVENESS_TIMEOUT = float(os.environ.get("LIVENESS_TIMEOUT", "60"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
os.environ.setdefault("SE_OFFLINE", "true")   # never let Selenium Manager look for drivers online
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KILLED = "client-0"


class Failure(Exception):
    pass


class Fatal(Failure):
    """A failure after which the other checks cannot mean anything (wrong page, no browser)."""


def check(condition, message):
    if not condition:
        raise Failure(message)


# ------------------------------------------------------------------ REST

def rest(path, headers=None):
    request = urllib.request.Request(CONTROLLER_URL + path, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read().decode())


def rest_list(path, **headers):
    h = {"X-Limit": "10000"}
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    return rest(path, h)["result"]


def finished_rounds(session_id):
    rounds = rest_list(f"/api/v1/rounds/?session_id={session_id}", X_Sort_Key="round_number", X_Sort_Order="asc")
    return [r for r in rounds if r["status"] == "Finished"]


# ------------------------------------------------------------------ browser

console_log = []   # every browser console entry of the run (get_log clears on read)
shots = []


def new_driver(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--hide-scrollbars", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    set_viewport(driver, width, height)
    return driver


def set_viewport(driver, width, height):
    # The window size includes no browser chrome in headless mode; emulate the exact viewport
    # (and a phone's touch/mobile flags at phone width) so media queries see what a device sees.
    driver.set_window_size(width, height)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def collect_console(driver):
    try:
        console_log.extend(driver.get_log("browser"))
    except WebDriverException:
        pass


def screenshot(driver, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, f"{len(shots) + 1:02d}-{name}.png")
    driver.save_screenshot(path)
    shots.append(path)
    return path


def full_page_screenshot(driver, name, width):
    height = driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": int(height), "deviceScaleFactor": 1, "mobile": width < 600})
    time.sleep(0.5)
    path = screenshot(driver, name)
    return path


def wait_for(what, predicate, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (WebDriverException, OSError, ValueError, KeyError) as error:
            last_error = error
        time.sleep(interval)
    raise Failure(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


def text(driver, element_id):
    return driver.find_element(By.ID, element_id).text.strip()


def node_statuses(driver):
    """{data-node: data-status} of every node on the page."""
    return driver.execute_script(
        "const out = {}; for (const n of document.querySelectorAll('[data-node]')) out[n.dataset.node] = n.dataset.status || ''; return out;")


# ------------------------------------------------------------------ checks

def test_topology(driver):
    driver.get(DASHBOARD_URL)
    if not driver.find_elements(By.ID, "topology"):
        raise Fatal(f"{DASHBOARD_URL} does not serve this dashboard (no #topology; title {driver.title!r}): the controller's "
                      "built-in assets are older than Sources/TributaryController/Dashboard/Assets — rebuild it, or run with DASHBOARD_DEV=1")
    wait_for("the page to load its first data", lambda: "loading" not in text(driver, "topology-summary"), 20)
    combiners = rest_list("/api/v1/combiners/")
    clients = rest_list("/api/v1/clients/")
    check(combiners and clients, f"the REST API lists {len(combiners)} combiners and {len(clients)} clients; the network is not up")
    want = {f"combiner:{c['name']}": c["status"] for c in combiners}
    want.update({f"client:{c['name']}": c["status"] for c in clients})

    def shown():
        nodes = node_statuses(driver)
        return all(nodes.get(k) == v for k, v in want.items()) and nodes
    try:
        wait_for("every combiner and client of the REST API on the page", shown, 15)
    except Failure:
        nodes = node_statuses(driver)
        missing = {k: v for k, v in want.items() if nodes.get(k) != v}
        raise Failure(f"nodes missing or with another status on the page: {missing} (page shows {nodes})")
    for client in clients:
        node = driver.find_element(By.CSS_SELECTOR, f'[data-node="client:{client["name"]}"]')
        check(node.is_displayed(), f"client {client['name']} is on the page but not visible")
    screenshot(driver, "desktop-topology")
    return f"{len(combiners)} combiners and {len(clients)} clients shown with their REST status"


def test_session(driver):
    check(not any(s["status"] == "Started" for s in rest_list("/api/v1/sessions/")),
          "a session is already running; the test needs an idle controller")
    name = f"ui-test-{int(time.time())}"
    start = driver.find_element(By.ID, "start-session")
    wait_for("the start button to be enabled", lambda: start.is_enabled(), 10)
    field = driver.find_element(By.ID, "f-name")
    field.clear()
    field.send_keys(name)
    rounds = driver.find_element(By.ID, "f-rounds")
    rounds.clear()
    rounds.send_keys(str(ROUNDS))
    start.click()

    session = wait_for(f"session {name} in the REST API",
                       lambda: (rest_list(f"/api/v1/sessions/?name={name}") or [None])[0], 15)
    session_id = session["session_id"]
    wait_for("the page to select the new session", lambda: text(driver, "session-name") == name, 15)
    time.sleep(1.0)
    screenshot(driver, "desktop-session-running")

    deadline = time.monotonic() + SESSION_TIMEOUT
    wait_for(f"session {name} to finish ({ROUNDS} rounds)",
             lambda: rest(f"/api/v1/sessions/{session_id}")["status"] in ("Finished", "Failed", "Terminated"),
             max(1, deadline - time.monotonic()), interval=1.0)
    final = rest(f"/api/v1/sessions/{session_id}")
    check(final["status"] == "Finished", f"session {name} ended {final['status']}, not Finished")
    rounds_done = finished_rounds(session_id)
    check(len(rounds_done) == ROUNDS, f"the REST API has {len(rounds_done)} finished rounds, expected {ROUNDS}")
    expected_accuracy = "%.4f" % rounds_done[-1]["round_data"]["validation"]["accuracy"]

    wait_for("the page to show every finished round",
             lambda: text(driver, "rounds-finished") == str(len(rounds_done)) and text(driver, "session-status") == "Finished", 20)
    shown_rounds = text(driver, "rounds-finished")
    shown_accuracy = wait_for("the final accuracy on the page", lambda: text(driver, "final-accuracy") == expected_accuracy and expected_accuracy, 10)
    check(shown_rounds == str(len(rounds_done)), f"page shows {shown_rounds} finished rounds, REST API {len(rounds_done)}")
    check(shown_accuracy == expected_accuracy, f"page shows final accuracy {text(driver, 'final-accuracy')}, REST API {expected_accuracy}")

    # The curves and the round table grew with the rounds; the model trail links the new models.
    points = driver.execute_script("return document.querySelectorAll('#chart-accuracy .chart-dots.s1 circle').length")
    check(points == ROUNDS, f"the accuracy chart has {points} points, expected {ROUNDS}")
    table_rows = len(driver.find_elements(By.CSS_SELECTOR, "#rounds-body tr[data-round]"))
    check(table_rows == ROUNDS, f"the rounds table has {table_rows} rows, expected {ROUNDS}")
    models = rest_list(f"/api/v1/models/?session_id={session_id}")
    wait_for("the model trail", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#model-trail a[data-download]")) >= len(models), 10)
    for model in models:
        link = driver.find_element(By.CSS_SELECTOR, f'#model-trail li[data-model="{model["model_id"]}"] a[data-download]')
        check(link.get_attribute("href").endswith(f"/api/v1/models/{model['model_id']}/download?format=npz"),
              f"model {model['model_id']} has download link {link.get_attribute('href')}")
    participants = len(driver.find_elements(By.CSS_SELECTOR, "#participants-body tr[data-participant]"))
    check(participants >= len(rest_list("/api/v1/clients/")), f"the participants table has {participants} rows")
    events = len(driver.find_elements(By.CSS_SELECTOR, "#events-feed li[data-type='round_completed']"))
    check(events >= ROUNDS, f"the events feed shows {events} round_completed events, expected {ROUNDS}")
    wait_for("the start notice to fade", lambda: not driver.find_element(By.ID, "toast").is_displayed(), 15)
    screenshot(driver, "desktop-session-finished")
    # An overview for the docs: network, the session's numbers and both curves in one picture.
    set_viewport(driver, 1280, 1240)
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.6)
    screenshot(driver, "desktop-overview")
    set_viewport(driver, 1280, 800)
    driver.execute_script("window.scrollTo(0, document.getElementById('session-section').offsetTop - 60)")
    time.sleep(0.4)
    screenshot(driver, "desktop-session-curves")
    driver.execute_script("window.scrollTo(0, 0)")
    full_page_screenshot(driver, "desktop-full-page", 1280)
    set_viewport(driver, 1280, 800)
    return f"{shown_rounds} rounds, final accuracy {shown_accuracy} (as the REST API), {points} chart points, {len(models)} model links"


def test_liveness(driver):
    driver.execute_script("window.scrollTo(0, 0)")
    before = node_statuses(driver).get(f"client:{KILLED}")
    check(before == "online", f"{KILLED} is '{before}' on the page before the kill, expected online")
    check(RUN_DIR, "RUN_DIR is not set; cannot kill a client")
    out = subprocess.run([os.path.join(REPO, "scripts", "local-network.sh"), "kill", KILLED, "--run-dir", RUN_DIR],
                         cwd=REPO, capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, f"local-network.sh kill {KILLED} failed: {out.stderr.strip() or out.stdout.strip()}")
    started = time.monotonic()
    status = wait_for(f"{KILLED} to turn stale or offline on the page",
                      lambda: (s := node_statuses(driver).get(f"client:{KILLED}")) in ("stale", "offline") and s, LIVENESS_TIMEOUT)
    seconds = time.monotonic() - started
    screenshot(driver, f"desktop-{KILLED}-{status}")
    rest_status = next(c["status"] for c in rest_list("/api/v1/clients/") if c["name"] == KILLED)
    check(rest_status in ("stale", "offline"), f"the page shows {KILLED} {status} but the REST API says {rest_status}")
    others = {k: v for k, v in node_statuses(driver).items() if k.startswith("client:") and k != f"client:{KILLED}"}
    check(all(v == "online" for v in others.values()), f"other clients are not all online on the page: {others}")
    if status == "stale":
        try:
            wait_for(f"{KILLED} to turn offline", lambda: node_statuses(driver).get(f"client:{KILLED}") == "offline", LIVENESS_TIMEOUT)
            screenshot(driver, f"desktop-{KILLED}-offline")
            status = "stale, then offline"
        except Failure:
            pass
    return f"{KILLED} {status} on the page {seconds:.1f} s after the kill"


def test_keyboard(driver):
    driver.execute_script("window.scrollTo(0, 0)")
    bad = driver.execute_script("""
        const bad = [];
        for (const n of document.querySelectorAll('[onclick], [role=button], div[tabindex], span[tabindex]')) bad.push(n.outerHTML.slice(0, 80));
        for (const n of document.querySelectorAll('input, select, textarea')) {
          if (n.type === 'hidden') continue;
          const labelled = (n.id && document.querySelector('label[for="' + n.id + '"]')) || n.closest('label') || n.getAttribute('aria-label');
          if (!labelled) bad.push('unlabelled ' + (n.id || n.outerHTML.slice(0, 60)));
        }
        for (const b of document.querySelectorAll('button')) if (!b.textContent.trim() && !b.getAttribute('aria-label')) bad.push('nameless button');
        return bad;""")
    check(not bad, f"controls that are not real, labelled controls: {bad}")
    # Start from the top of the document, as after loading the page, and press Tab only.
    driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    reached = []
    for _ in range(60):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        reached.append(active.get_attribute("id") or active.tag_name)
        if active.get_attribute("id") == "start-session":
            break
    check("start-session" in reached, f"Tab never reached the start button; reached {reached}")
    outline = driver.execute_script("const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.outlineWidth")
    check(not outline.startswith("none"), f"the focused button shows no focus outline ({outline})")
    screenshot(driver, "desktop-keyboard-focus")
    return f"Tab reaches the start button in {len(reached)} steps; focus outline {outline}"


def test_phone(driver):
    set_viewport(driver, 390, 844)
    driver.get(DASHBOARD_URL)
    wait_for("the page at phone width", lambda: "loading" not in text(driver, "topology-summary"), 20)
    time.sleep(1.0)
    screenshot(driver, "phone-top")
    sections = ["topology-section", "sessions-section", "session-section", "participants-section", "models-section", "events-section"]
    for section in sections:
        element = driver.find_element(By.ID, section)
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", element)
        time.sleep(0.2)
        check(element.is_displayed(), f"#{section} is not visible at phone width")
        rect = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.right, r.height]", element)
        check(rect[0] >= -1 and rect[1] <= 391 and rect[2] > 40, f"#{section} does not fit the 390 px screen: left {rect[0]}, right {rect[1]}, height {rect[2]}")
        if section in ("session-section", "events-section"):
            screenshot(driver, f"phone-{section.replace('-section', '')}")
    overflow = driver.execute_script("return document.documentElement.scrollWidth")
    check(overflow <= 391, f"the page is {overflow} px wide at a 390 px viewport (sideways scrolling)")
    start = driver.find_element(By.ID, "start-session")
    size = start.size
    check(size["height"] >= 32, f"the start button is {size['height']} px tall at phone width (too small to tap)")
    driver.execute_script("window.scrollTo(0, 0)")
    set_viewport(driver, 1280, 800)
    return f"{len(sections)} sections visible, page width {overflow} px"


def test_console(_driver):
    severe = [e for e in console_log if e.get("level") == "SEVERE"]
    check(not severe, "SEVERE browser console messages: " + "; ".join(e.get("message", "")[:200] for e in severe))
    return f"{len(console_log)} console messages, none SEVERE"


# ------------------------------------------------------------------ runner

def main():
    if not DASHBOARD_URL or not CONTROLLER_URL:
        print("DASHBOARD_URL and CONTROLLER_URL must be set (see Tests/dashboard/run.sh)", file=sys.stderr)
        return 2
    os.makedirs(ARTIFACTS, exist_ok=True)
    print(f"dashboard {DASHBOARD_URL}, controller {CONTROLLER_URL}, screenshots in {ARTIFACTS}", flush=True)
    try:
        driver = new_driver(1280, 800)
    except WebDriverException as error:
        print(f"FAIL browser: could not start Chromium/chromedriver: {error}", flush=True)
        print("0 passed, 1 failed")
        return 1
    tests = [("topology", test_topology), ("session", test_session), ("liveness", test_liveness),
             ("keyboard", test_keyboard), ("phone", test_phone), ("console", test_console)]
    passed = failed = 0
    depends = {"liveness": "topology"}
    results = {}
    fatal = None
    try:
        for name, test in tests:
            if fatal:
                print(f"FAIL {name}: not run ({fatal})", flush=True)
                failed += 1
                continue
            if depends.get(name) and results.get(depends[name]) is False:
                print(f"FAIL {name}: not run, {depends[name]} failed", flush=True)
                failed += 1
                results[name] = False
                continue
            started = time.monotonic()
            try:
                detail = test(driver)
                passed += 1
                results[name] = True
                print(f"PASS {name} ({time.monotonic() - started:.1f} s): {detail}", flush=True)
            except Failure as error:
                failed += 1
                results[name] = False
                print(f"FAIL {name}: {error}", flush=True)
                if isinstance(error, Fatal):
                    fatal = f"{name} failed"
                try:
                    screenshot(driver, f"failure-{name}")
                except WebDriverException:
                    pass
            except Exception as error:  # a bug in the test or a dead browser: report, go on
                failed += 1
                results[name] = False
                message = str(error).strip().splitlines()[0] if str(error).strip() else ""
                print(f"FAIL {name}: {type(error).__name__}: {message}", flush=True)
                if not isinstance(error, WebDriverException):
                    traceback.print_exc()
            finally:
                collect_console(driver)
    finally:
        try:
            driver.quit()
        except WebDriverException:
            pass
    for entry in console_log:
        if entry.get("level") in ("SEVERE", "WARNING"):
            print(f"console {entry.get('level')}: {entry.get('message')}", flush=True)
    print(f"screenshots: {', '.join(os.path.basename(s) for s in shots)}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
