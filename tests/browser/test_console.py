"""The manager's console in a real browser (Debian's Chromium, headless), clicked through in the
help article's words: sign in, Managers, Invite (a resident with a future start, a doorcode
person), edit an expiration, Revoke All Keys, Delete Person, Show Expired Users, the door
update tasks turning delivered when a simulated door takes them, the Activity tab; and the
refusals: Key Management and a POST without the CSRF token. Screenshots go to
target/browser-artifacts/."""

import datetime
import json
import re
import time

from playwright.sync_api import expect

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
ASK_A_PORTFOLIO_MANAGER = "this needs the Key Management permission: ask a Portfolio Manager to grant it to you"
NEEDS_KEY_MANAGEMENT = "contact a Portfolio Manager and request they add Key Management permissions"


def local(dt):
    """A `datetime-local` value (the properties here are at UTC)."""
    return dt.strftime("%Y-%m-%dT%H:%M")


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)


class Console:
    def __init__(self, context, server, prop, artifacts, name):
        self.page = context.pages[0] if context.pages else context.new_page()
        self.server = server
        self.prop = prop
        self.artifacts = artifacts
        self.name = name
        self.shots = 0

    def url(self, rest=""):
        return f"{self.server.base}/p/{self.prop['id']}{rest}"

    def shot(self, what):
        self.shots += 1
        self.page.screenshot(path=str(self.artifacts / f"{self.name}-{self.shots:02d}-{what}.png"), full_page=True)

    def sign_in(self, token):
        response = self.page.goto(self.server.base + "/")
        assert response.headers["content-security-policy"] == CSP
        expect(self.page).to_have_url(re.compile(r"/sign-in$"))
        self.page.get_by_label("Manager token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page).to_have_url(re.compile(rf"/p/{self.prop['id']}/people$"))

    def menu(self, item):
        self.page.locator("nav.menu").get_by_role("link", name=item, exact=True).click()
        expect(self.page.locator("h1")).to_have_text(item)

    def flash(self):
        return self.page.locator("p.flash")

    def people_rows(self):
        return self.page.locator("table.people tbody tr")

    def open_person(self, name):
        self.menu("People")
        self.page.locator("table.people").get_by_role("link", name=name, exact=True).click()
        expect(self.page.locator("h1")).to_have_text(name)

    def invite(self, name, contact, doors, start=None, expiry=None, doorcode=False, resident=False, may_share=False):
        self.menu("Invite")
        form = self.page.locator("form#invite")
        form.locator(f"input[name=access][value={'daily_doorcode' if doorcode else 'app_key'}]").check()
        form.locator("input[name=name]").fill(name)
        form.locator("input[name=contact]").fill(contact)
        for door in doors:
            form.locator(f"input[name=key1_door][value='{self.prop['doors'][door]['door_id']}']").check()
        if start:
            form.locator("input[name=key1_start]").fill(local(start))
        if expiry:
            form.locator("input[name=key1_expiry]").fill(local(expiry))
        else:
            form.locator("input[name=key1_never]").check()
        if resident:
            form.get_by_label("Resident").check()
        if may_share:
            form.get_by_label("May Share Key", exact=False).check()
        form.get_by_role("button", name="Invite").click()
        expect(self.page.locator("h1")).to_have_text(name)
        expect(self.flash()).to_contain_text(f"Invited {name}. The welcome message goes out today")


def person_id(page):
    return int(re.search(r"/people/(\d+)", page.url).group(1))


def test_the_help_article_clicked_through(server, browser, artifacts):
    prop = server.property("Elm Court")
    c = Console(browser(), server, prop, artifacts, "article")
    c.sign_in(prop["pm"])
    # The left menu: the property list, then the property's pages.
    menu = c.page.locator("nav.menu")
    expect(menu.locator("ul.properties")).to_contain_text("Elm Court")
    for item in ["People", "Invite", "Doors", "Door update tasks", "Activity", "Managers"]:
        expect(menu.get_by_role("link", name=item, exact=True)).to_be_visible()
    expect(c.page.locator("p.count")).to_have_text("0 people with active or upcoming access")
    c.shot("people-empty")

    # Managers: add one with Key Management, see the permission, withdraw and grant it again.
    c.menu("Managers")
    add = c.page.locator("form#add-manager")
    add.get_by_label("Name").fill("Kim")
    add.get_by_label("Key Management", exact=False).check()
    add.get_by_role("button", name="Add manager").click()
    expect(c.flash()).to_contain_text("Added manager Kim")
    kim_token = re.search(r"mgr_[0-9a-f]{64}", c.flash().inner_text()).group(0)
    kim = c.page.locator("table.managers tr", has_text="Kim")
    expect(kim.locator("td.km")).to_have_text("yes")
    kim.get_by_role("button", name="Remove Key Management").click()
    expect(c.flash()).to_have_text("Kim no longer has Key Management.")
    expect(c.page.locator("table.managers tr", has_text="Kim").locator("td.km")).to_have_text("no")
    c.page.locator("table.managers tr", has_text="Kim").get_by_role("button", name="Grant Key Management").click()
    expect(c.page.locator("table.managers tr", has_text="Kim").locator("td.km")).to_have_text("yes")
    managers = server.ok("GET", "/v1/managers", prop["pm"])
    assert [m["key_management"] for m in managers if m["name"] == "Kim"] == [True]
    assert server.ok("GET", "/v1/managers/me", kim_token)["name"] == "Kim"
    c.shot("managers")

    # Invite a resident whose access starts tomorrow morning.
    now = utc_now()
    start = (now + datetime.timedelta(days=1)).replace(hour=9, minute=0)
    expiry = start + datetime.timedelta(days=365)
    c.invite("Ann Lee", "ann@example.com", ["Lobby", "Garage"], start, expiry, resident=True, may_share=True)
    expect(c.flash()).to_contain_text(f"Their access starts {start:%Y-%m-%d %H:%M}")
    expect(c.page.locator("p.facts")).to_contain_text("resident")
    expect(c.page.locator("p.facts .status")).to_have_text("upcoming")
    key_row = c.page.locator("table.keys tr.key").first
    expect(key_row).to_contain_text("Lobby, Garage")
    expect(key_row.locator("td.expiry")).to_have_text(f"{expiry:%Y-%m-%d %H:%M}")
    ann = person_id(c.page)
    c.shot("ann-invited")

    # A doorcode person: no phone, a code typed at the Lobby's keypad.
    c.invite("Dan Oduya", "+1 555 0100", ["Lobby"], None, now + datetime.timedelta(days=30), doorcode=True)
    dan = person_id(c.page)
    expect(c.page.locator("p.facts")).to_contain_text("daily doorcode")
    c.page.locator("nav.tabs").get_by_role("link", name="Door update tasks").click()
    task = c.page.locator("table.tasks tbody tr")
    expect(task).to_have_count(1)
    expect(task).to_contain_text("Lobby")
    expect(task).to_contain_text(re.compile(r"add doorcode slot \d+ for Dan Oduya"))
    expect(task.locator(".state")).to_have_text("pending")
    c.shot("dan-door-update-pending")

    # The welcome messages went out today.
    c.menu("Welcome messages")
    expect(c.page.locator("article.message")).to_have_count(2)
    expect(c.page.locator("article.message", has_text="Your doorcode for Elm Court")).to_be_visible()

    # Edit the resident's expiration: an earlier one.
    c.open_person("Ann Lee")
    earlier = start + datetime.timedelta(days=90)
    row = c.page.locator("table.keys tr.key").first
    row.locator("input[name=expiry]").fill(local(earlier))
    row.get_by_role("button", name="Save expiration").click()
    expect(c.flash()).to_contain_text(f"now expires {earlier:%Y-%m-%d %H:%M}")
    live = c.page.locator("table.keys tr.key", has=c.page.locator("td.status", has_text=re.compile("upcoming|active")))
    expect(live.locator("td.expiry")).to_have_text(f"{earlier:%Y-%m-%d %H:%M}")
    keys = server.ok("GET", f"/v1/people/{ann}", prop["pm"])["keys"]
    assert [k["validity"]["expiry"] for k in keys if k["status"] == "upcoming"] == [
        datetime.datetime.fromtimestamp(int(earlier.timestamp()), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ]
    # An expiration before the start is refused beside that key's form, with the server's words.
    row = live.first
    row.locator("input[name=expiry]").fill(local(start - datetime.timedelta(days=1)))
    row.get_by_role("button", name="Save expiration").click()
    expect(c.page.locator("table.keys tr.key form.expiry .error")).to_contain_text("is not after the key's start")
    c.shot("ann-expiry-refused")

    # Revoke All Keys for Dan: the confirmation says guests are revoked too.
    c.open_person("Dan Oduya")
    c.page.get_by_role("link", name="Revoke All Keys").click()
    expect(c.page.locator("div.confirm")).to_contain_text("Guests Dan Oduya shared keys with are revoked too")
    c.shot("revoke-all-confirm")
    c.page.get_by_role("button", name="Revoke All Keys").click()
    expect(c.flash()).to_contain_text("Revoked all keys of Dan Oduya (1 keys")
    expect(c.page.locator("p.facts .status")).to_have_text("expired")
    # Gone from the list, back with Show Expired Users.
    c.menu("People")
    expect(c.people_rows()).to_have_count(1)
    expect(c.people_rows()).to_contain_text("Ann Lee")
    c.page.get_by_label("Show Expired Users").check()
    c.page.get_by_role("button", name="Search").click()
    expect(c.people_rows()).to_have_count(2)
    expect(c.page.locator("table.people tr", has_text="Dan Oduya").locator("td.status")).to_have_text("expired")
    c.shot("show-expired-users")
    # Search by contact.
    c.page.get_by_label("Search by name or contact").fill("ANN@example")
    c.page.get_by_role("button", name="Search").click()
    expect(c.people_rows()).to_have_count(1)
    expect(c.people_rows()).to_contain_text("Ann Lee")

    # Delete Person: permanent, guests with permanent keys lose access, activity stays.
    c.open_person("Ann Lee")
    c.page.get_by_role("link", name="Delete Person").click()
    says = c.page.locator("div.confirm")
    expect(says).to_contain_text("This is permanent.")
    expect(says).to_contain_text("guests with permanent keys from Ann Lee lose access too")
    expect(says).to_contain_text("Their past activity stays in the Activity tab.")
    c.shot("delete-person-confirm")
    c.page.get_by_role("button", name="Delete Person").click()
    expect(c.page.locator("h1")).to_have_text("People")
    expect(c.flash()).to_contain_text("Deleted Ann Lee.")
    c.page.get_by_label("Show Expired Users").check()
    c.page.get_by_role("button", name="Search").click()
    expect(c.people_rows()).to_have_count(1)
    expect(c.people_rows()).to_contain_text("Dan Oduya")
    assert c.page.goto(c.url(f"/people/{ann}")).status == 404
    c.page.go_back()

    # Door update tasks per door: the Lobby's doorcode slot, its removal, Ann's revocation.
    c.menu("Door update tasks")
    c.page.get_by_label("Door").select_option(label="Lobby")
    c.page.get_by_role("button", name="Show").click()
    tasks = c.page.locator("table.tasks tbody tr")
    expect(tasks).to_have_count(3)
    expect(tasks.nth(0)).to_contain_text(re.compile(r"add doorcode slot \d+ for Dan Oduya"))
    expect(tasks.nth(1)).to_contain_text(re.compile(r"remove doorcode slot \d+"))
    expect(tasks.nth(2)).to_contain_text("revoke Ann Lee (deleted) and their guests")
    for i in range(3):
        expect(tasks.nth(i).locator(".state")).to_have_text("pending")
    c.shot("door-update-tasks-lobby")

    # Doors: offline doors and the internet-connected one; update seq and delivered seq.
    c.menu("Doors")
    lobby = c.page.locator("table.doors tr", has_text="Lobby")
    expect(lobby).to_contain_text("offline door")
    expect(lobby.locator("td.log-head")).to_have_text("3")
    expect(lobby.locator("td.delivered")).to_have_text("0")
    expect(c.page.locator("table.doors tr", has_text="Front door")).to_contain_text("feed not heard")
    c.shot("doors")

    # Activity: filters by door and person, deleted people still listed.
    c.menu("Activity")
    options = c.page.locator("select[name=person_id] option")
    expect(options).to_contain_text(["Everyone", "Ann Lee (deleted)", "Dan Oduya"])
    expect(c.page.locator("p.hint")).to_contain_text("No activity yet")

    # Sign out: the console is closed to this browser.
    c.page.get_by_role("button", name="Sign out").click()
    expect(c.page).to_have_url(re.compile(r"/sign-in$"))
    c.page.goto(c.url("/people"))
    expect(c.page).to_have_url(re.compile(r"/sign-in$"))
    assert dan and ann


def test_key_management_is_disabled_and_refused_by_the_server(server, browser, artifacts):
    prop = server.property("Oak Yard")
    pm = prop["pm"]
    lobby = prop["doors"]["Lobby"]["door_id"]
    invited = server.ok(
        "POST",
        "/v1/invites",
        pm,
        {"name": "Rae", "contact": "rae@example.com", "access": "app_key",
         "keys": [{"doors": [lobby], "expiry": "never"}]},
    )
    rae = invited["person"]["person_id"]
    sam = server.ok("POST", "/v1/managers", pm, {"name": "Sam", "portfolio_manager": False, "key_management": False})
    c = Console(browser(), server, prop, artifacts, "key-management")
    c.sign_in(sam["token"])
    c.page.goto(c.url(f"/people/{rae}"))
    for label in ["Save expiration", "Delete key", "Add key", "Revoke All Keys", "Delete Person"]:
        expect(c.page.get_by_role("button", name=label, exact=True)).to_be_disabled()
    expect(c.page.locator(".needs-km").first).to_contain_text(NEEDS_KEY_MANAGEMENT)
    c.shot("disabled")
    c.menu("Invite")
    expect(c.page.get_by_role("button", name="Invite")).to_be_disabled()
    expect(c.page.locator("form#invite .needs-km")).to_contain_text(NEEDS_KEY_MANAGEMENT)
    c.menu("Managers")
    expect(c.page.get_by_role("button", name="Add manager")).to_be_disabled()

    # Forced: the browser posts the disabled form anyway; the server refuses (403) with its words.
    c.page.goto(c.url(f"/people/{rae}"))
    c.page.evaluate("document.querySelectorAll('button[disabled]').forEach(b => b.removeAttribute('disabled'))")
    c.page.locator("table.keys tr.key").first.get_by_role("button", name="Delete key").click()
    expect(c.page.locator("table.keys .error")).to_have_text(ASK_A_PORTFOLIO_MANAGER)
    c.shot("forced-refused")
    # The same POST outside the form, with the session's CSRF token: 403 too.
    csrf = c.page.locator("input[name=csrf]").first.input_value()
    forced = c.page.request.post(c.url(f"/people/{rae}/revoke-all"), form={"csrf": csrf}, max_redirects=0)
    assert forced.status == 403, forced.text()
    assert ASK_A_PORTFOLIO_MANAGER in forced.text()
    person = server.ok("GET", f"/v1/people/{rae}", pm)
    assert [k["status"] for k in person["keys"]] == ["active"], "nothing changed"


def test_a_post_without_the_csrf_token_is_refused(server, browser, artifacts):
    prop = server.property("Pine Row")
    c = Console(browser(), server, prop, artifacts, "csrf")
    c.sign_in(prop["pm"])
    c.menu("Invite")
    form = c.page.locator("form#invite")
    form.locator("input[name=name]").fill("Mallory")
    form.locator("input[name=contact]").fill("m@example.com")
    form.locator(f"input[name=key1_door][value='{prop['doors']['Lobby']['door_id']}']").check()
    form.locator("input[name=key1_never]").check()
    # The browser submits the real form with its hidden CSRF field removed.
    c.page.evaluate("document.querySelector('form#invite input[name=csrf]').remove()")
    with c.page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.get_by_role("button", name="Invite").click()
    assert posted.value.status == 403
    expect(c.page.locator("p.error")).to_contain_text("carries no CSRF token")
    c.shot("refused")
    # Posted by hand with the session cookie but no token, or another token: 403.
    for fields in [{"name": "Mallory"}, {"name": "Mallory", "csrf": "0" * 64}]:
        answer = c.page.request.post(c.url("/invite"), form=fields, max_redirects=0)
        assert answer.status == 403, answer.text()
        assert answer.headers["content-security-policy"] == CSP
    assert server.ok("GET", "/v1/people?show_expired=true", prop["pm"]) == []


def wait_for(what, check, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_door_update_tasks_turn_delivered_when_the_simulated_door_takes_them(
    server, browser, artifacts, lock_sim, tmp_path
):
    prop = server.property("Birch Hall")
    front = prop["doors"]["Front door"]
    provision = tmp_path / "front.json"
    provision.write_text(json.dumps(front))
    state = tmp_path / "front-state.json"
    lock_sim("provision", "--state", state, "--provision", provision)

    c = Console(browser(), server, prop, artifacts, "delivered")
    c.sign_in(prop["pm"])
    c.invite("Dana Cruz", "dana@example.com", ["Front door"], None, utc_now() + datetime.timedelta(days=7), doorcode=True)
    dana = person_id(c.page)
    c.page.locator("nav.tabs").get_by_role("link", name="Door update tasks").click()
    expect(c.page.locator("table.tasks tbody tr .state")).to_have_text(["pending"])

    # The door connects to its feed, applies the update and reports its signed receipt.
    lock_sim.background("feed", "--state", state, "--backend", server.base)
    wait_for(
        "the delivery",
        lambda: all(t["state"] == "delivered" for t in server.ok("GET", "/v1/door-updates", prop["pm"])),
    )
    c.page.reload()
    task = c.page.locator("table.tasks tbody tr")
    expect(task.locator(".state")).to_have_text("delivered")
    expect(task).to_contain_text("door's signed receipt")
    expect(task).to_contain_text("took")
    c.menu("Doors")
    expect(c.page.locator("table.doors tr", has_text="Front door")).to_contain_text("online")
    c.shot("delivered")

    # Dana types today's code at the keypad; the door's next receipt brings the entry.
    message = [m for m in server.ok("GET", "/v1/outbox", prop["pm"]) if str(m["person_id"]) == str(dana)][0]
    codes = server.ok("GET", "/v1/doorcodes", message["token"])["codes"]
    entry = lock_sim("keypad", "--state", state, "--code", codes[0]["code"])
    assert "open" in entry.lower() or "unlock" in entry.lower(), entry
    # Another change for the Front door wakes its feed at once (the receipt rides with it).
    c.open_person("Dana Cruz")
    row = c.page.locator("table.keys tr.key").first
    row.locator("input[name=expiry]").fill(local(utc_now() + datetime.timedelta(days=14)))
    row.get_by_role("button", name="Save expiration").click()
    expect(c.flash()).to_contain_text("now expires")
    wait_for("the entry", lambda: server.ok("GET", "/v1/activity", prop["pm"]))

    # Delete Dana: her past activity stays, filed under her name.
    c.page.get_by_role("link", name="Delete Person").click()
    c.page.get_by_role("button", name="Delete Person").click()
    expect(c.flash()).to_contain_text("Deleted Dana Cruz.")
    c.menu("Activity")
    c.page.get_by_label("Person").select_option(label="Dana Cruz (deleted)")
    c.page.get_by_role("button", name="Show").click()
    rows = c.page.locator("table.activity tbody tr")
    expect(rows.first).to_contain_text("Dana Cruz: doorcode entry")
    expect(rows.first).to_contain_text("Front door")
    c.shot("activity-deleted-person")
    wait_for(
        "the revocation's delivery",
        lambda: all(t["state"] == "delivered" for t in server.ok("GET", "/v1/door-updates", prop["pm"])),
    )
    c.menu("Door update tasks")
    states = c.page.locator("table.tasks tbody tr .state")
    expect(states).to_have_text(["delivered"] * states.count())
    assert states.count() >= 3
