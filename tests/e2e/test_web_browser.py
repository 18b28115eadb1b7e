"""The console end to end in Debian's headless Chromium (Selenium + /usr/bin/chromedriver; nothing is downloaded).

One console process over a real store, one real gateway in front of a real DCMTK storescp: log in,
the overview's counts equal the store's, filter findings, diff two scan runs, contain a peer from the
browser and see DCMTK's storescu refused by the gateway, release it, a viewer gets 403, a form without
its CSRF token is refused. Every view is screenshotted and checked to be non-blank; with
``RADGUARD_SCREENSHOTS=DIR`` (``make docs``) the screenshots are written there for docs/web.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radguard.models import Finding, Severity
from radguard.report.diff import diff_findings
from radguard.report.posture import build_posture
from radguard.store import Store, open_store
from radguard.web.accounts import create_user
from tests.support.peers import dcmtk_env, free_port, start_storescp, wait_port

pytestmark = pytest.mark.integration

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PASSWORD = "correct horse battery staple"
LOOPBACK = "127.0.0.1"
GATEWAY = """
[gateway]
listen = "127.0.0.1:{port}"
upstream = "127.0.0.1:{up}"
upstream_ae = "STORESCP"
ae_title = "RADGUARD"
control = "run/control.sock"

[[peer]]
ae = "CT01"
hosts = ["127.0.0.1"]
allow = ["C-ECHO", "C-STORE"]

[[peer]]
ae = "MR02"
hosts = ["127.0.0.1"]
allow = ["C-ECHO", "C-STORE"]

[audit]
file = "gateway-audit.jsonl"
"""


def f(rule: str, sev: str, target: str) -> Finding:
    return Finding(rule=rule, severity=Severity(sev), title=f"{rule} title", target=target, remediation=f"fix {rule}",
                   evidence={"port": 104}, controls=("hipaa:164.312(e)(1)", "csf:PR.DS-02"))


def seed(store: Store) -> tuple[int, int]:
    first = store.start_run("scan", {"targets": ["10.0.0.0/29"]})
    first.add_findings([f("dicom-any-called-ae", "high", "10.0.0.1:104"), f("dicom-open-query", "critical",
                        "10.0.0.2:104"), f("tls-weak", "medium", "10.0.0.3:2762")])
    first.finish()
    second = store.start_run("scan", {"targets": ["10.0.0.0/29"]})
    second.add_findings([f("dicom-any-called-ae", "high", "10.0.0.1:104"), f("tls-weak", "high", "10.0.0.3:2762"),
                         f("web-default-credentials", "critical", "10.0.0.4:8042"),
                         f("dicom-echo-open", "low", "10.0.0.5:104")])
    second.finish()
    audit = store.start_run("audit", {"paths": ["/archive"]})
    audit.add_findings([f("pixel-tampered", "critical", "/archive/1.dcm"), f("transcoded", "info", "/archive/2.dcm")])
    audit.finish()
    return first.id, second.id


def ok_png(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as im:
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 16, f"{path} looks blank ({len(colours or [])} colours)"


def storescu(port: int, ae: str, dcm: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["storescu", "-v", "-aet", ae, "-aec", "RADGUARD", LOOPBACK, str(port), str(dcm)],
                          env=dcmtk_env(), capture_output=True, text=True, timeout=60)


class Browser:
    """A thin layer over Selenium: pages by path, screenshots by view name."""

    def __init__(self, base: str, shots: Path, profile: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                    "--disable-background-networking", "--disable-component-update", "--window-size=1280,1000",
                    f"--user-data-dir={profile}"):
            opts.add_argument(arg)
        self.driver: Any = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.implicitly_wait(10)
        self.base, self.shots = base, shots
        self.taken: list[Path] = []

    def wait_url(self, fragment: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 10).until(lambda d: fragment in d.current_url)

    def wait_page(self, text: str) -> None:
        """Until the page (after a click that posts a form) holds ``text`` in its title or source."""
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 10).until(lambda d: text in d.title + d.page_source)

    def get(self, path: str) -> None:
        self.driver.get(self.base + path)

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def text(self, selector: str) -> str:
        return str(self.css(selector).text)

    def shot(self, name: str) -> Path:
        path = self.shots / f"web-{name}.png"
        self.driver.save_screenshot(str(path))
        ok_png(path)
        self.taken.append(path)
        return path

    def login(self, name: str) -> None:
        self.get("/login")
        self.css("input[name=name]").send_keys(name)
        self.css("input[name=password]").send_keys(PASSWORD)
        self.css("#login-submit").click()
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 10).until(lambda d: "/login" not in d.current_url)

    def logout(self) -> None:
        self.css("nav form button").click()
        self.wait_url("/login")

    def quit(self) -> None:
        self.driver.quit()


@pytest.fixture()
def department(tmp_path: Path) -> Iterator[dict[str, Any]]:
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not Path(tool).exists():
            pytest.fail(f"{tool} missing: run `make test` (it installs Debian's chromium and chromium-driver)")
    store = open_store()
    runs = seed(store)
    for name, role in (("otto", "operator"), ("vera", "viewer")):
        create_user(store, name, role, PASSWORD)
    upstream = start_storescp(tmp_path, extra_args=["--fork"])
    gw_port = free_port()
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(GATEWAY.format(port=gw_port, up=upstream.port))
    procs: list[subprocess.Popen[str]] = []
    profile = Path(tempfile.mkdtemp(prefix="radguard-chromium-"))
    try:
        gw = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", "gateway", "--config", str(cfg)],
                              cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        procs.append(gw)
        wait_port(LOOPBACK, gw_port, proc=gw)  # type: ignore[arg-type]
        web_port = free_port()
        web = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", "web", "--port", str(web_port),
                                "--data-dir", str(tmp_path / "web"), "--gateway-config", str(cfg)],
                               cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        procs.append(web)
        wait_port(LOOPBACK, web_port, proc=web)  # type: ignore[arg-type]
        shots = Path(os.environ.get("RADGUARD_SCREENSHOTS") or tmp_path / "shots")
        shots.mkdir(parents=True, exist_ok=True)
        browser = Browser(f"http://{LOOPBACK}:{web_port}", shots, profile)
        try:
            yield {"store": store, "runs": runs, "gw_port": gw_port, "browser": browser, "tmp": tmp_path,
                   "web_port": web_port}
        finally:
            browser.quit()
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        upstream.stop()
        store.close()
        shutil.rmtree(profile, ignore_errors=True)


def test_console_in_a_real_browser(department: dict[str, Any]) -> None:
    b: Browser = department["browser"]
    store: Store = department["store"]
    first, second = department["runs"]
    from pydicom.data import get_testdata_file

    dcm = Path(str(get_testdata_file("CT_small.dcm")))

    # no session: the console sends the browser to its login page, headers and all
    b.get("/")
    assert b.driver.current_url.endswith("/login")
    b.shot("login")
    with urllib.request.urlopen(f"http://{LOOPBACK}:{department['web_port']}/login") as r:
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]

    # log in; the overview shows the store's numbers
    b.login("otto")
    posture = build_posture(store)
    for sev, n in posture.open_counts.items():
        assert b.text(f"#open-{sev}") == str(n), sev
    assert b.driver.execute_script("return document.querySelector('figure img').naturalWidth") > 100
    b.shot("overview")

    # filter findings by severity
    b.get("/findings")
    b.css("input[name=severity][value=critical]").click()
    b.css("#apply-filters").click()
    b.wait_url("severity=critical")
    assert b.text("#findings-total").startswith(f"{posture.open_counts['critical']} finding")
    rows = b.driver.find_elements("css selector", "#findings-table tr.finding")
    assert len(rows) == posture.open_counts["critical"] and all("CRITICAL" in r.text.upper() for r in rows)
    b.shot("findings")

    # diff the two scan runs
    from selenium.webdriver.support.ui import Select

    b.get("/findings")
    Select(b.css("select[name=a]")).select_by_value(str(first))
    Select(b.css("select[name=b]")).select_by_value(str(second))
    b.css("#diff-submit").click()
    b.wait_url("/findings/diff")
    d = diff_findings(store.findings(first), store.findings(second))
    assert b.text("#diff-new") == str(len(d.new)) == "2"
    assert b.text("#diff-fixed") == str(len(d.fixed)) == "1"
    assert b.text("#diff-changed") == str(len(d.changed_severity)) == "1"
    b.shot("diff")

    # a finding's detail; its accept form without the CSRF token is refused
    b.get("/findings/1")
    b.shot("finding")
    b.driver.execute_script("document.querySelector('#accept-form input[name=csrf]').remove()")
    b.css("#accept-form input[name=reason]").send_keys("compensating control")
    b.driver.execute_script("document.querySelector('#accept-form input[name=expires]').value = '2099-01-01'")
    b.css("#accept-form button").click()
    b.wait_page("Form refused")  # the click returns before the browser has the POST's answer
    assert "Form refused" in b.driver.title + b.driver.page_source and "CSRF" in b.text("#error-message")

    # a monitor run's alerts (the producer's own events), then every other view
    from radguard.models import Finding, Severity
    from radguard.monitor.run import alert_events

    sweep = [Finding(rule="c-find-sweep", severity=Severity.HIGH, title="C-FIND sweep", target=f"10.0.0.{i}:104")
             for i in range(3)]
    mon = store.start_run("monitor", {})
    mon.add_findings(sweep)
    mon.add_events(alert_events(sweep))
    mon.finish()
    for view in ("runs", "assets", "alerts", "archive", "governance"):
        b.get(f"/{view}")
        b.shot(view)
    b.get("/alerts?severity=high")
    assert len(b.driver.find_elements("css selector", "#alerts-table tr.alert")) == 3
    b.get("/governance")
    assert "hipaa" in b.text("#governance-summary")

    # contain CT01 from the browser: the real gateway refuses CT01's next association
    assert storescu(department["gw_port"], "CT01", dcm).returncode == 0
    b.get("/gateway")
    b.shot("gateway")
    b.css("#contain-CT01").click()
    b.shot("confirm")
    started = time.monotonic()
    b.css("#confirm-submit").click()
    assert "CT01 applied" in b.text("#contain-result")
    elapsed = time.monotonic() - started
    server_ms = b.driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0]; return n.responseEnd - n.requestStart;")
    refused = storescu(department["gw_port"], "CT01", dcm)
    assert refused.returncode != 0
    assert re.search(r"Association Rejected|Calling AE Title Not Recognized", refused.stdout + refused.stderr)
    assert storescu(department["gw_port"], "MR02", dcm).returncode == 0  # only CT01 is shut out
    b.get("/gateway")
    assert "CT01 CONTAINED" in b.css("#peers-0").text.upper()
    # who and since when: the console's user, and the OS user the console runs as (issue 16 item 6)
    assert re.search(r"peer CT01 by otto \(console, as \S+\) since 20", b.css("#holds-0").text)
    # per-peer counts from the gateway's control socket: CT01 stored once and was refused once
    row = b.css("#peers-0").find_element("xpath", ".//tr[td/span[text()='CT01']]")
    assert row.find_element("css selector", ".peer-stores").text == "1"
    assert int(row.find_element("css selector", ".peer-refused").text) >= 1
    b.shot("gateway-contained")
    b.css("#release-CT01").click()
    b.css("#confirm-submit").click()
    assert "release CT01 applied" in b.text("#contain-result")
    assert storescu(department["gw_port"], "CT01", dcm).returncode == 0
    print(f"\ncontain from the browser: {elapsed * 1000:.0f} ms from click to the result page "
          f"({server_ms:.0f} ms request to response)")
    b.logout()

    # a viewer sees no containment buttons and gets 403 when trying anyway
    b.login("vera")
    b.get("/gateway")
    assert not b.driver.find_elements("css selector", "#contain-CT01")
    b.get("/gateway/0/confirm?action=peer&peer=CT01")
    assert "403" in b.driver.title and "operator" in b.text("#error-message")
    b.shot("forbidden")

    assert server_ms < 1000, f"containment took {server_ms:.0f} ms"
    assert len(b.taken) == 14
    audit = (department["tmp"] / "web" / "web-audit.jsonl").read_text()
    assert "contain peer CT01 on gateway gateway" in audit and "needs role operator" in audit
