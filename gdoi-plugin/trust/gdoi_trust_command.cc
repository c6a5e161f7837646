// SPDX-License-Identifier: GPL-2.0-or-later
#include "gdoi_trust_command.h"

#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "groupsec/trust/holds_callback.h"
#include "groupsec/trust/store.h"
#include "groupsec/vici/vici_wire.h"
#include "gstrust.h"

using groupsec::Bytes;
using groupsec::vici::Section;
using namespace groupsec::trust;

namespace {

// the commands that work on the store alone (no file of the client's)
// reload: the daemon reads the store again (after gstrust imported), then lists it
const std::set<std::string> kAllowed = {"list",    "show",      "trusted", "enable",
                                        "disable", "condition", "remove",  "reload"};
const std::set<std::string> kChanging = {"enable", "disable", "condition", "remove", "reload"};

Section failure(const std::string &message, int status)
{
	Section s;
	s.add_value("success", "no");
	s.add_value("status", std::to_string(status));
	s.add_value("errmsg", message);
	return s;
}

Section answer(const char *dir, const Section &request, gs_trust_holds_t holds, void *holds_ctx, bool &changed)
{
	for (const auto &e : request.entries())
		if (e.name != "args")
			return failure("trust: unknown argument '" + e.name + "'", gstrust::kExitUsage);
	if (request.find("args") && !request.list("args"))
		return failure("trust: argument 'args' must be a list", gstrust::kExitUsage);
	const std::vector<std::string> *args = request.list("args");
	if (!args || args->empty())
		return failure("trust: no command given (list, show, trusted, enable, disable, condition, remove)",
			       gstrust::kExitUsage);
	size_t first = 0;
	while (first < args->size() && (*args)[first] == "--json")
		first++;
	if (first == args->size() || !kAllowed.count((*args)[first]))
		return failure("trust: " + (first == args->size() ? std::string("no command given") :
								 "unknown command '" + (*args)[first] + "'") +
				       " (list, show, trusted, enable, disable, condition, remove, reload)",
			       gstrust::kExitUsage);
	for (const auto &a : *args)
		if (a == "--dir" || a.rfind("--dir=", 0) == 0)
			return failure("trust: the store is the daemon's own (no --dir)", gstrust::kExitUsage);
	std::vector<std::string> argv = {"--dir", dir};
	argv.insert(argv.end(), args->begin(), args->end());
	if ((*args)[first] == "reload") {
		if (args->size() != first + 1)
			return failure("trust: reload takes no argument", gstrust::kExitUsage);
		argv[2 + first] = "list";
	}
	SystemWallClock clock;
	HoldsCallback conditions(holds, holds_ctx);
	std::string out, err;
	int status = gstrust::run(argv, nullptr, clock, conditions, out, err);
	if (status != gstrust::kExitOk) {
		// gstrust's own prefix: the client names the command
		const std::string own = "gstrust: ";
		if (err.compare(0, own.size(), own) == 0)
			err.erase(0, own.size());
		while (!err.empty() && err.back() == '\n')
			err.pop_back();
		Section s = failure(err, status);
		s.add_value("output", out);
		return s;
	}
	changed = kChanging.count((*args)[first]) > 0;
	Section s;
	s.add_value("success", "yes");
	s.add_value("status", "0");
	s.add_value("output", out);
	return s;
}

} // namespace

extern "C" bool gdoi_trust_command(const char *dir, const uint8_t *request, size_t len, gs_trust_holds_t holds,
				   void *holds_ctx, uint8_t **response, size_t *response_len, bool *changed)
{
	*changed = false;
	try {
		Section reply;
		auto req = groupsec::vici::decode_message(groupsec::ByteView(request, len));
		if (!req)
			reply = failure("trust: " + req.error().message, gstrust::kExitUsage);
		else
			reply = answer(dir, req.value(), holds, holds_ctx, *changed);
		auto encoded = groupsec::vici::encode_message(reply);
		if (!encoded) {
			encoded = groupsec::vici::encode_message(failure("trust: " + encoded.error().message,
									 gstrust::kExitFailed));
			if (!encoded)
				return false;
		}
		const Bytes &b = encoded.value();
		*response = static_cast<uint8_t *>(std::malloc(b.size() ? b.size() : 1));
		if (!*response)
			return false;
		std::memcpy(*response, b.data(), b.size());
		*response_len = b.size();
		return true;
	} catch (const std::exception &) {
		return false;
	}
}
