"""Check that no page of a built HTML site links to a missing target.

Every ``href`` and ``src`` of every ``.html`` file under the site directory
that points inside the site must name an existing file, and its ``#anchor``
(if any) must be an ``id`` in that file. External links (``http:``,
``mailto:`` ...) are listed, not fetched.

Usage: python docs/check_links.py docs/_build/html
"""
import html.parser
import pathlib
import sys
import urllib.parse


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif name in ("href", "src") and value:
                self.links.append(value)


def _parse(path, cache={}):
    if path not in cache:
        parser = _Links()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = parser
    return cache[path]


def check(site):
    site = site.resolve()
    broken, external, checked = [], set(), 0
    for page in sorted(site.rglob("*.html")):
        for link in _parse(page).links:
            parts = urllib.parse.urlsplit(link)
            if parts.scheme or parts.netloc:
                external.add(link)
                continue
            checked += 1
            target = page if not parts.path else (page.parent / urllib.parse.unquote(parts.path))
            target = target.resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or site not in target.parents and target != site:
                broken.append(f"{page.relative_to(site)}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html" \
                    and parts.fragment not in _parse(target).ids:
                broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    return checked, sorted(external), broken


def main(argv):
    site = pathlib.Path(argv[1] if len(argv) > 1 else "docs/_build/html")
    checked, external, broken = check(site)
    print(f"{checked} internal links checked in {site}; {len(external)} external links not fetched")
    for line in broken:
        print("BROKEN", line)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
