-- Carries kunci's credentials on every request wrk sends: the headers come from the
-- environment, one per line ("Name: value"), so the harness can hand over the session cookies
-- (with the CSRF cookie), a bearer token or nothing, without writing them into a file.
local headers = os.getenv("KUNCI_BENCH_HEADERS") or ""
for line in headers:gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end
