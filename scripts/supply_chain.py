#!/usr/bin/env python3
"""What kunci is built from, checked (docs/dependencies.md). CI runs it after `cargo audit`.

- licenses: every crate of the main and the fuzz workspace carries an SPDX expression that the
  allow list below satisfies (an `OR` needs one allowed branch, an `AND` all of them);
- sources: every crate comes from crates.io or is one of our own path crates (no git, no other
  registry);
- one TLS and crypto stack: aws-lc-rs, aws-lc-sys, openssl-sys and openssl are not in the
  resolved graph, whatever the features (rustls on ring only);
- npm: every package-lock.json of the repository pins each package with an integrity hash and a
  license from the allow list;
- no RSA private-key operation in our own code (the reason the RUSTSEC-2023-0071 ignore holds).

Prints what it checked; exit 1 listing every problem.
"""
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Licenses compatible with distributing kunci under Apache-2.0. A new one needs a line in
# docs/dependencies.md saying why it is acceptable.
ALLOWED = {
    "0BSD",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSL-1.0",
    "CC0-1.0",
    "CDLA-Permissive-2.0",
    "ISC",
    "MIT",
    "MIT-0",
    # File-level copyleft (docs/dependencies.md): axe-core, a test peer.
    "MPL-2.0",
    "NCSA",
    "Unicode-3.0",
    "Unlicense",
    "Zlib",
}
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
BANNED = {"aws-lc-rs", "aws-lc-sys", "openssl-sys", "openssl"}
# The `rsa` crate in our own code. Passkeys and identity providers need only RSA *public* keys,
# and the key ring signs with Ed25519 and HMAC: any use of `rsa` is refused except the
# public-key types named here, and any private-key type or function whatever the path, so a
# grouped import (`use rsa::{pkcs1v15::SigningKey, …}`) cannot slip through.
RSA_PATH = re.compile(r"\brsa::(\{[^}]*\}|[A-Za-z0-9_:]+)")
RSA_PUBLIC = re.compile(
    r"^(RsaPublicKey|pkcs1v15::VerifyingKey|pss::VerifyingKey|pkcs1::DecodeRsaPublicKey"
    r"|pkcs8::DecodePublicKey|traits::PublicKeyParts|BigUint)(::|$)"
)
RSA_PRIVATE = re.compile(
    r"RsaPrivateKey|SigningKey|DecryptingKey|BlindedSigningKey|DecodeRsaPrivateKey"
    r"|DecodePrivateKey|PrivateKeyParts|RandomizedSigner|\bSigner\b|Decryptor"
)


def rsa_findings(line: str) -> list[str]:
    """What on this line uses `rsa` beyond verifying with a public key (comments aside)."""
    line = line.split("//", 1)[0]
    found = [m.group(0) for m in RSA_PRIVATE.finditer(line) if "rsa" in line.lower()]
    for m in RSA_PATH.finditer(line):
        path = m.group(1)
        if path.startswith("{") or not RSA_PUBLIC.match(path.rstrip(":")):
            found.append(m.group(0))
    if re.search(r"\bextern\s+crate\s+rsa\b", line):
        found.append("extern crate rsa")
    return found


def tokens(expr: str) -> list[str]:
    # Old Cargo metadata writes `MIT/Apache-2.0` for `MIT OR Apache-2.0`.
    expr = expr.replace("/", " OR ")
    return re.findall(r"\(|\)|[A-Za-z0-9.+\-]+(?: WITH [A-Za-z0-9.+\-]+)?", expr)


def satisfied(expr: str) -> bool:
    """Whether the SPDX expression is satisfied by the allow list (AND binds tighter than OR)."""
    toks = tokens(expr)
    pos = 0

    def primary() -> bool:
        nonlocal pos
        if pos >= len(toks):
            raise ValueError("unexpected end")
        tok = toks[pos]
        pos += 1
        if tok == "(":
            value = disjunction()
            if pos >= len(toks) or toks[pos] != ")":
                raise ValueError("unbalanced parenthesis")
            pos += 1
            return value
        if tok in ("AND", "OR", ")"):
            raise ValueError(f"unexpected {tok}")
        return tok in ALLOWED

    def conjunction() -> bool:
        nonlocal pos
        value = primary()
        while pos < len(toks) and toks[pos] == "AND":
            pos += 1
            value = primary() and value
        return value

    def disjunction() -> bool:
        nonlocal pos
        value = conjunction()
        while pos < len(toks) and toks[pos] == "OR":
            pos += 1
            value = conjunction() or value
        return value

    value = disjunction()
    if pos != len(toks):
        raise ValueError("trailing tokens")
    return value


def metadata(manifest: pathlib.Path) -> dict:
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features",
         "--manifest-path", str(manifest)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def check_crates(manifest: pathlib.Path, problems: list[str]) -> int:
    meta = metadata(manifest)
    ours = set(meta["workspace_members"])
    packages = {p["id"]: p for p in meta["packages"]}
    resolved = {node["id"] for node in meta["resolve"]["nodes"]}
    where = manifest.parent.relative_to(ROOT).as_posix() or "."
    for pid in sorted(resolved):
        p = packages[pid]
        name = f"{p['name']} {p['version']}"
        source = p.get("source")
        if pid in ours or (source is None and p["name"].startswith("kunci")):
            continue
        if source != CRATES_IO:
            problems.append(f"{where}: {name} comes from {source or 'a path'}, not crates.io")
        if p["name"] in BANNED:
            problems.append(f"{where}: {name} is a second TLS/crypto stack (rustls on ring only)")
        license = p.get("license")
        if not license:
            problems.append(f"{where}: {name} declares no SPDX license")
            continue
        try:
            if not satisfied(license):
                problems.append(f"{where}: {name} is licensed `{license}`, not on the allow list")
        except ValueError as err:
            problems.append(f"{where}: {name} has an unreadable license `{license}` ({err})")
    return len(resolved)


def check_npm(problems: list[str]) -> int:
    count = 0
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard",
         "*package-lock.json"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    for rel in tracked:
        lock = json.loads((ROOT / rel).read_text())
        for path, pkg in lock.get("packages", {}).items():
            if not path:
                continue
            count += 1
            name = path.rsplit("node_modules/", 1)[-1]
            if pkg.get("link"):
                continue
            if not pkg.get("integrity"):
                problems.append(f"{rel}: {name} is not pinned by an integrity hash")
            license = pkg.get("license")
            if not license:
                problems.append(f"{rel}: {name} declares no license")
                continue
            try:
                if not satisfied(license):
                    problems.append(f"{rel}: {name} is licensed `{license}`, not on the allow list")
            except ValueError as err:
                problems.append(f"{rel}: {name} has an unreadable license `{license}` ({err})")
    return count


def check_rsa(problems: list[str]) -> None:
    for path in sorted(ROOT.glob("crates/**/*.rs")) + sorted(ROOT.glob("bench/**/*.rs")) + \
            sorted(ROOT.glob("fuzz/**/*.rs")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for use in rsa_findings(line):
                problems.append(
                    f"{path.relative_to(ROOT)}:{number}: `{use}` goes beyond verifying with an "
                    "RSA public key (docs/dependencies.md: the RUSTSEC-2023-0071 ignore holds "
                    "only without RSA private keys)"
                )


def self_test() -> None:
    assert satisfied("MIT OR Apache-2.0")
    assert satisfied("(MIT OR Apache-2.0) AND Unicode-3.0")
    assert satisfied("MIT/Apache-2.0")
    assert satisfied("Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT")
    assert satisfied("MIT OR Apache-2.0 OR LGPL-2.1-or-later")
    assert not satisfied("GPL-3.0-only")
    assert not satisfied("MIT AND GPL-2.0-only")
    assert not satisfied("AGPL-3.0-or-later OR SSPL-1.0")
    assert rsa_findings("let key = rsa::RsaPrivateKey::new(&mut rng, 2048)")
    assert rsa_findings("use rsa::{pkcs1v15::SigningKey, RsaPublicKey};")
    assert rsa_findings("use rsa::pss::BlindedSigningKey;")
    assert rsa_findings("extern crate rsa;")
    assert not rsa_findings("let key = rsa::RsaPublicKey::from_public_key_der(der)")
    assert not rsa_findings("use rsa::pkcs1v15::VerifyingKey;")
    assert not rsa_findings("// the keyring signs with Ed25519; no SigningKey of rsa here")


def main() -> int:
    self_test()
    problems: list[str] = []
    main_count = check_crates(ROOT / "Cargo.toml", problems)
    fuzz_count = check_crates(ROOT / "fuzz" / "Cargo.toml", problems)
    npm_count = check_npm(problems)
    check_rsa(problems)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(
        f"supply chain: {main_count} crates (and {fuzz_count} of the fuzz workspace) from "
        f"crates.io under allowed licenses; {npm_count} npm packages pinned; no second TLS stack; "
        "no RSA private-key use"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
