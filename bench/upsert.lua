-- wrk script for `make bench-sandbox`: one contact upsert per request, each
-- with a new email address (thread number + counter), so every request
-- creates a contact, its custom fields and a tag link: the sandbox's most
-- expensive write path.
local threads = {}
local next_id = 0

function setup(thread)
	thread:set("id", next_id)
	next_id = next_id + 1
	table.insert(threads, thread)
end

function init(args)
	counter = 0
	headers = {
		["Content-Type"] = "application/json",
		["X-API-Key"] = os.getenv("MEISA_BENCH_KEY") or "meisa_test_sandbox",
	}
end

function request()
	counter = counter + 1
	local body = string.format(
		'{"email":"bench-%d-%d@example.com","external_id":"b%d-%d",' ..
		'"first_name":"Bench","last_name":"User %d","source":"import",' ..
		'"custom_fields":{"plan":"pro","seq":%d},"tag_names":["bench"]}',
		id, counter, id, counter, counter, counter)
	return wrk.format("POST", "/api/v1/contacts/upsert/", headers, body)
end
