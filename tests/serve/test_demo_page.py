"""The demo page in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium)."""

from __future__ import annotations

import shutil
import tempfile

import pytest
from serve_support import TOKEN

from llm4rec.serve import ServeSettings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]

pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="chromium and chromium-driver are not installed "
                                "(Debian: apt-get install chromium chromium-driver; .ci/run installs them)")


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (extra 'test')")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="llm4rec-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_demo_page_recommends_explains_and_chats(live, browser, fitted, ml100k):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(live.url + "/")
    assert browser.title == "llm4rec demo"
    browser.find_element(By.ID, "token").send_keys(TOKEN, Keys.TAB)  # "change" loads the model list
    wait.until(lambda d: len(Select(d.find_element(By.ID, "model-b")).options) == 4)
    Select(browser.find_element(By.ID, "model-a")).select_by_value("itemknn")
    Select(browser.find_element(By.ID, "model-b")).select_by_value("pop")
    user = browser.find_element(By.ID, "user")
    user.clear()
    user.send_keys("7")
    browser.find_element(By.ID, "recommend").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#recs-b li")) == 10)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#recs-a li")) == 10)

    u = list(ml100k.user_ids).index("7")
    for label, list_id in (("itemknn", "recs-a"), ("pop", "recs-b")):
        shown = [li.get_attribute("data-id") for li in browser.find_elements(By.CSS_SELECTOR, f"#{list_id} li")]
        ids, _ = fitted[label].recommend([u], k=10)
        assert shown == [str(ml100k.catalog.ids[i]) for i in ids[0]], label
    first = browser.find_element(By.CSS_SELECTOR, "#recs-a li")
    assert first.text.startswith(ml100k.catalog.title(int(fitted["itemknn"].recommend([u], k=1)[0][0, 0])))
    history = browser.find_elements(By.CSS_SELECTOR, "#history li")
    assert len(history) == 20
    assert browser.find_element(By.ID, "title-a").text == "itemknn"
    assert browser.find_element(By.ID, "error").text == ""

    first.find_element(By.CSS_SELECTOR, "button.why").click()  # itemknn cannot explain: the LLM model does
    wait.until(lambda d: d.find_element(By.ID, "explanation").text.startswith("Because you watched"))

    box = browser.find_element(By.ID, "chat-input")
    box.send_keys('I love "Star Wars" and space adventures', Keys.ENTER)
    wait.until(lambda d: "You might like" in d.find_element(By.ID, "chat-log").text)
    box.send_keys("more", Keys.ENTER)
    wait.until(lambda d: d.find_element(By.ID, "chat-log").text.count("You might like") == 2)
    assert "you: more" in browser.find_element(By.ID, "chat-log").text


def test_demo_page_reports_api_errors(live, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live.url + "/")
    browser.execute_script("sessionStorage.clear()")
    browser.get(live.url + "/")
    browser.find_element(By.ID, "load").click()  # no token yet
    WebDriverWait(browser, 30).until(lambda d: "bearer token" in d.find_element(By.ID, "error").text)


def test_page_is_open_but_the_api_is_not(live):
    import httpx

    page = httpx.get(live.url + "/")
    assert page.status_code == 200 and "llm4rec demo" in page.text
    assert ServeSettings().auth  # tokens on by default
    assert httpx.get(live.url + "/v1/models").status_code == 401
