"""Fetch the two JavaScript packages the website and its checks need, pinned and verified.

Usage: python tools/vendor_assets.py   (run by the Makefile when it sets up .venv)

* MathJax is served by the site itself (`_vendor/mathjax/`, copied to the site's root) rather than from a CDN, so that
  math renders offline, behind a firewall and in the browser tests on a loopback server.
* axe-core is the accessibility auditor the browser tests inject into each page; it lives in
  `.venv/vendor/` and is never published.

Both come from the npm registry as tarballs and are checked against the registry's sha512
integrity before anything is unpacked; node and npm are not needed.
"""
import base64
import hashlib
import io
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT  # noqa: E402

PACKAGES = {
    "mathjax": ("3.2.2", "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="),
    "axe-core": ("4.14.1", "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="),
}
MATHJAX_DIR = ROOT / "_vendor" / "mathjax"
AXE_SCRIPT = ROOT / ".venv" / "vendor" / "axe.min.js"
CACHE = ROOT / ".venv" / "vendor" / "tarballs"

# The site loads tex-mml-chtml.js; MathJax then fetches fonts, TeX extensions and its
# menu/accessibility parts lazily from beside it. The other combined builds (the other .js
# files at the top level) and the SVG output are never requested.
MATHJAX_ENTRY = "tex-mml-chtml.js"


def _tarball(name):
    version, integrity = PACKAGES[name]
    cached = CACHE / f"{name}-{version}.tgz"
    if cached.exists():
        data = cached.read_bytes()
    else:
        url = f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz"
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                data = response.read()
        except OSError as error:
            sys.exit(f"Could not download {url} ({error}). The website needs {name} {version}; "
                     "check the network connection (the npm registry must be reachable) and run again.")
    algorithm, expected = integrity.split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        cached.unlink(missing_ok=True)
        sys.exit(f"{name}-{version}.tgz does not match its pinned {algorithm} integrity; "
                 "it was not unpacked. Run this command again to download it afresh.")
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(data)
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")


def _stamp(directory, name):
    return directory / f".{name}-{PACKAGES[name][0]}"


def install_mathjax(target=MATHJAX_DIR):
    if _stamp(target, "mathjax").exists():
        return target
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with _tarball("mathjax") as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts  # package/es5/...
            if not member.isfile() or parts[:2] != ("package", "es5"):
                continue
            inside = Path(*parts[2:])
            if len(inside.parts) == 1 and inside.suffix == ".js" and inside.name != MATHJAX_ENTRY:
                continue
            if inside.parts[:2] == ("output", "svg") or inside.name == "svg.js":
                continue
            destination = staging / inside
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(archive.extractfile(member).read())
        license_file = archive.extractfile("package/LICENSE").read()
    (staging / "LICENSE").write_bytes(license_file)
    _stamp(staging, "mathjax").touch()
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def install_axe(target=AXE_SCRIPT):
    if _stamp(target.parent, "axe-core").exists() and target.exists():
        return target
    with _tarball("axe-core") as archive:
        script = archive.extractfile("package/axe.min.js").read()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(script)
    _stamp(target.parent, "axe-core").touch()
    return target


if __name__ == "__main__":
    print(f"MathJax in {install_mathjax().relative_to(ROOT)}, axe-core in {install_axe().relative_to(ROOT)}")
