"""The Admin Console in a real browser: Debian's headless Chromium driven by Selenium through Debian's
chromium-driver (``/usr/bin/chromedriver``; nothing downloads a browser or a driver), against the real server.

Screenshots are test artefacts: under ``$FMSCRIPT_ARTIFACTS/console-screens`` when that variable is set, else
in pytest's temporary folder (``console-screens*``); each test prints where.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from .harness import BASE, KEY, QA, free_port, jsonl, wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver")
                                                else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="Debian's chromium and chromium-driver are not installed "
                                       "(apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    base = os.environ.get("FMSCRIPT_ARTIFACTS")
    d = Path(base) / "console-screens" if base else tmp_path_factory.mktemp("console-screens")
    d.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {d}")
    return d


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    # Anything that is not loopback goes to a port where nothing listens, as on a machine offline.
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1280,1100", f"--user-data-dir={profile}",
                f"--proxy-server=http://127.0.0.1:{free_port()}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def root(drained):
    return f"http://127.0.0.1:{drained.port}"


def by_id(driver, el_id):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, el_id)


def login(driver, root, key=KEY):
    driver.delete_all_cookies()
    driver.get(root + "/console")
    assert "/console/login" in driver.current_url
    by_id(driver, "key").send_keys(key)
    by_id(driver, "login-submit").click()


def attr_when_ready(driver, el_id, name):
    """An attribute of an element the page may be swapping out right now."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    for _ in range(20):
        try:
            return by_id(driver, el_id).get_attribute(name)
        except (StaleElementReferenceException, NoSuchElementException):
            time.sleep(0.05)
    raise AssertionError(f"#{el_id} did not settle")


def test_wrong_key_language_switch_and_logout(browser, root, shots):
    login(browser, root, "wrong-key")
    assert "/console/login" in browser.current_url
    assert "not valid" in browser.find_element("css selector", "div.error").text
    assert "Traceback" not in browser.page_source
    browser.save_screenshot(str(shots / "01-login-wrong-key.png"))

    login(browser, root)
    wait_until(lambda: browser.find_elements("id", "jobs-live"), 20, "the jobs page after logging in")
    assert by_id(browser, "nav-jobs").text == "Jobs"
    from selenium.webdriver.support.ui import Select

    Select(by_id(browser, "lang-select")).select_by_value("zh-Hans")  # submits itself (console.js)
    wait_until(lambda: by_id(browser, "nav-jobs").text == "作业", 20, "the page in zh-Hans")
    assert "微调作业" in browser.page_source and browser.find_element("tag name", "html").get_attribute("lang") == \
        "zh-Hans"
    browser.save_screenshot(str(shots / "02-jobs-zh-Hans.png"))
    Select(by_id(browser, "lang-select")).select_by_value("en")
    wait_until(lambda: by_id(browser, "nav-jobs").text == "Jobs", 20, "the page in English again")

    by_id(browser, "nav-server").click()
    assert by_id(browser, "health-device").text.split(" ")[0] in ("CPU", "CUDA", "Metal")
    assert by_id(browser, "health-blas").text
    browser.save_screenshot(str(shots / "03-server.png"))

    by_id(browser, "logout").click()
    wait_until(lambda: "/console/login" in browser.current_url, 20, "the login page after logging out")
    browser.get(root + "/console/models")
    assert "/console/login" in browser.current_url  # the session is gone
    browser.save_screenshot(str(shots / "04-logged-out.png"))  # the login page again


@pytest.mark.slow
def test_fine_tune_from_the_page_watch_it_ask_it_cancel_another_and_delete_it(browser, root, shots, tmp_path, drained):
    from selenium.webdriver.support.ui import Select

    login(browser, root)
    wait_until(lambda: browser.find_elements("id", "jobs-live"), 20, "the jobs page")

    # Upload a file and start a job from the page.
    data = tmp_path / "qa.jsonl"
    data.write_text(jsonl(), encoding="utf-8")
    by_id(browser, "nav-new").click()
    by_id(browser, "file").send_keys(str(data))
    Select(by_id(browser, "model")).select_by_value(BASE)
    for name, value in (("max_steps", "120"), ("learning_rate", "3e-3"), ("batch_size", "4"),
                        ("fine_tuned_model_name", "browser qa"), ("extra", '{"steps_per_report": 4}')):
        by_id(browser, name).clear()
        by_id(browser, name).send_keys(value)
    browser.save_screenshot(str(shots / "05-new-fine-tune.png"))
    by_id(browser, "start-job").click()
    wait_until(lambda: "/console/jobs/fm-ftjob-" in browser.current_url, 30, "the job page")
    job_id = browser.current_url.rsplit("/", 1)[1]

    # Its page follows it to the end without a reload (the marker would be gone after one). On a fast machine the
    # 120 steps may take less than one poll, so the step count is watched rising on the long job further down.
    browser.execute_script("window.__stillThisPage = 1;")
    seen = []
    shot_taken = False
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = attr_when_ready(browser, "job-state", "data-status")
        step = int(attr_when_ready(browser, "job-state", "data-step") or 0)
        if not seen or seen[-1] != step:
            seen.append(step)
        if status == "running" and step > 0 and not shot_taken:
            browser.save_screenshot(str(shots / "06-job-running.png"))
            shot_taken = True
        if status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.3)
    assert status == "succeeded", browser.page_source[:3000]
    assert browser.execute_script("return window.__stillThisPage;") == 1
    assert seen == sorted(seen) and seen[0] < seen[-1] == 120, seen
    # Its loss fell, and the chart (swapped in while it ran) draws it: later points lie lower (larger y).
    polyline = browser.find_element("css selector", "#loss-chart polyline.series-train")
    points = [tuple(map(float, p.split(","))) for p in polyline.get_attribute("points").split()]
    assert len(points) >= 10 and points[-1][1] > points[0][1], points
    browser.save_screenshot(str(shots / "07-job-succeeded.png"))

    # Ask the tuned model.
    question, answer = QA[0]
    by_id(browser, "nav-models").click()
    Select(by_id(browser, "try-model")).select_by_value("fm-mlx-browser-qa")
    by_id(browser, "prompt").send_keys(question)
    by_id(browser, "ask").click()
    wait_until(lambda: browser.find_elements("id", "answer"), 120, "the tuned model's answer")
    assert by_id(browser, "answer").text.strip() == answer.strip()
    assert job_id in by_id(browser, "models-table").text  # the job that made it
    browser.save_screenshot(str(shots / "08-models-try.png"))

    # Start a long job: watch its step count rise on its page and in the jobs list (both update themselves), and
    # cancel it from its page.
    by_id(browser, "nav-new").click()
    # Typing a name that exists warns at once, in the page's words.
    assert not by_id(browser, "same-name-warning").is_displayed()
    by_id(browser, "fine_tuned_model_name").send_keys("browser qa")
    wait_until(lambda: by_id(browser, "same-name-warning").is_displayed(), 10, "the same-name warning")
    assert "fm-mlx-browser-qa already exists" in by_id(browser, "same-name-warning").text
    by_id(browser, "fine_tuned_model_name").clear()
    by_id(browser, "fine_tuned_model_name").send_keys(" ")
    wait_until(lambda: not by_id(browser, "same-name-warning").is_displayed(), 10, "the warning to go")
    by_id(browser, "fine_tuned_model_name").clear()
    Select(by_id(browser, "existing_file")).select_by_index(1)
    Select(by_id(browser, "model")).select_by_value(BASE)
    by_id(browser, "max_steps").send_keys("100000")
    by_id(browser, "extra").send_keys('{"steps_per_report": 2}')
    by_id(browser, "start-job").click()
    wait_until(lambda: "/console/jobs/fm-ftjob-" in browser.current_url, 30, "the second job's page")
    other = browser.current_url.rsplit("/", 1)[1]
    assert other != job_id
    browser.execute_script("window.__stillThisPage = 3;")
    steps = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len([s for s in steps if s > 0]) < 3:
        step = int(attr_when_ready(browser, "job-state", "data-step") or 0)
        if not steps or steps[-1] != step:
            steps.append(step)
        time.sleep(0.3)
    assert len([s for s in steps if s > 0]) >= 3 and steps == sorted(steps), steps
    assert browser.execute_script("return window.__stillThisPage;") == 3
    browser.save_screenshot(str(shots / "09-job-step-rising.png"))
    by_id(browser, "nav-jobs").click()
    browser.execute_script("window.__stillThisPage = 2;")

    def row_step():
        from selenium.common.exceptions import StaleElementReferenceException

        try:
            row = browser.find_element("css selector", f'tr.job[data-job="{other}"]')
            return int(row.get_attribute("data-step") or 0)
        except StaleElementReferenceException:
            return 0
    first = row_step()
    wait_until(lambda: row_step() > first, 180, "the second job's step to rise in the jobs list")
    assert browser.execute_script("return window.__stillThisPage;") == 2
    browser.save_screenshot(str(shots / "10-jobs-list-running.png"))
    browser.find_element("css selector", f'tr.job[data-job="{other}"] a').click()
    by_id(browser, "cancel-job").click()
    wait_until(lambda: attr_when_ready(browser, "job-state", "data-status") == "cancelled", 60, "the job cancelled")
    assert drained.job(other)["status"] == "cancelled"
    browser.save_screenshot(str(shots / "11-job-cancelled.png"))
    browser.get(root + "/console/jobs")
    rows = {r.get_attribute("data-job"): r.get_attribute("data-status")
            for r in browser.find_elements("css selector", "tr.job")}
    assert rows[job_id] == "succeeded" and rows[other] == "cancelled"
    browser.save_screenshot(str(shots / "12-jobs-list.png"))

    # Delete the tuned model, confirming first.
    wait_until(lambda: not drained.health()["jobs"]["running"], 60, "the cancelled job to stop")
    browser.get(root + "/console/models")
    browser.find_element("css selector", 'tr[data-model="fm-mlx-browser-qa"] a.delete-model').click()
    assert "fm-mlx-browser-qa" in browser.find_element("tag name", "h1").text
    browser.save_screenshot(str(shots / "13-delete-confirm.png"))
    by_id(browser, "confirm-delete").click()
    wait_until(lambda: "was deleted" in browser.page_source, 30, "the deletion")
    assert not browser.find_elements("css selector", 'tr[data-model="fm-mlx-browser-qa"]')
    assert drained.get("/models/fm-mlx-browser-qa").status_code == 404
    browser.save_screenshot(str(shots / "14-model-deleted.png"))
