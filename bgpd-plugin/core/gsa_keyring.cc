// SPDX-License-Identifier: GPL-2.0-or-later
#include "gsa_keyring.h"

#include <algorithm>
#include <exception>

#include "groupsec/crypto/prf.h"

namespace groupsec::bgp {

namespace {

std::string num(uint64_t v)
{
	return std::to_string(v);
}

} // namespace

SealResult<bool> Keyring::update(uint32_t group, uint32_t epoch, ByteView key)
{
	if (epoch == 0)
		return seal_error(SealStatus::Invalid, "group " + num(group) + ": epoch 0 is none");
	if (key.size() != kSealKeyBytes)
		return seal_error(SealStatus::Invalid,
				  "group " + num(group) + ": a routing key has 32 octets, not " + num(key.size()));
	try {
		auto it = groups_.find(group);
		if (it == groups_.end()) {
			Group g;
			g.current = Epoch{epoch, SecretBytes(key)};
			g.changed_ms = clock_.now_ms();
			groups_.emplace(group, std::move(g));
			changes_++;
			return true;
		}
		Group &g = it->second;
		if (g.current.id == epoch) {
			if (!crypto::equal(g.current.key, key))
				return seal_error(SealStatus::Invalid, "group " + num(group) + ": epoch " + num(epoch) +
									       " came again with another key");
			return false;
		}
		// plan: everything that can throw first, then swap in
		Epoch next{epoch, SecretBytes(key)};
		std::deque<uint32_t> retired = g.retired;
		if (g.previous)
			retired.push_back(g.previous->id);
		retired.erase(std::remove(retired.begin(), retired.end(), epoch), retired.end());
		while (retired.size() > kRetiredKept)
			retired.pop_front();
		// commit
		g.previous = std::move(g.current);
		g.current = std::move(next);
		g.retired.swap(retired);
		g.changed_ms = clock_.now_ms();
		changes_++;
		return true;
	} catch (const std::exception &) {
		return seal_error(SealStatus::Internal, "out of memory");
	}
}

void Keyring::remove(uint32_t group)
{
	if (groups_.erase(group))
		changes_++;
	for (auto it = noted_.begin(); it != noted_.end();) {
		if (it->second.group == group)
			it = noted_.erase(it);
		else
			++it;
	}
}

uint64_t Keyring::opening_version() const
{
	// between two changes a previous epoch can only go from within its
	// grace period to past it, so the count of those past it tells the rest
	uint64_t now = clock_.now_ms(), expired = 0;
	for (const auto &[id, g] : groups_)
		if (g.previous && now >= g.changed_ms + grace_ms_)
			expired++;
	return (changes_ << 32) | expired;
}

std::optional<uint32_t> Keyring::epoch(uint32_t group) const
{
	auto it = groups_.find(group);
	if (it == groups_.end())
		return std::nullopt;
	return it->second.current.id;
}

std::optional<Keyring::Previous> Keyring::previous(uint32_t group) const
{
	auto it = groups_.find(group);
	if (it == groups_.end() || !it->second.previous)
		return std::nullopt;
	uint64_t now = clock_.now_ms();
	uint64_t end = it->second.changed_ms + grace_ms_;
	return Previous{it->second.previous->id, now < end ? end - now : 0};
}

std::vector<uint32_t> Keyring::groups() const
{
	std::vector<uint32_t> out;
	for (const auto &[id, g] : groups_)
		out.push_back(id);
	return out;
}

SealResult<Keyring::SealingKey> Keyring::sealing_key(uint32_t group) const
{
	auto it = groups_.find(group);
	if (it == groups_.end())
		return seal_error(SealStatus::UnknownGroup, "group " + num(group) + ": no routing key");
	return SealingKey{it->second.current.id, &it->second.current.key};
}

SealResult<Keyring::OpeningKey> Keyring::opening_key(uint32_t group, uint32_t epoch) const
{
	auto it = groups_.find(group);
	if (it == groups_.end())
		return seal_error(SealStatus::UnknownGroup, "group " + num(group) + ": no routing key");
	const Group &g = it->second;
	if (g.current.id == epoch)
		return OpeningKey{&g.current.key, false};
	if (g.previous && g.previous->id == epoch) {
		if (clock_.now_ms() < g.changed_ms + grace_ms_)
			return OpeningKey{&g.previous->key, true};
		return seal_error(SealStatus::EpochExpired, "group " + num(group) + ": epoch " + num(epoch) +
								   " ended more than " + num(grace_ms_ / 1000) +
								   " s ago (grace period over)");
	}
	if (std::find(g.retired.begin(), g.retired.end(), epoch) != g.retired.end())
		return seal_error(SealStatus::EpochExpired, "group " + num(group) + ": epoch " + num(epoch) +
								   " is older than the previous one");
	return seal_error(SealStatus::UnknownEpoch, "group " + num(group) + ": epoch " + num(epoch) +
							   " is unknown (current " + num(g.current.id) + ")");
}

SealResult<Bytes> Keyring::seal(uint32_t group, ByteView originator, const SealedRoutes &routes,
				crypto::RandomSource &random, uint32_t *epoch) const
{
	auto k = sealing_key(group);
	if (!k.ok())
		return k.error();
	auto blob = seal_routes(*k.value().key, group, k.value().epoch, originator, routes, random);
	if (blob.ok() && epoch)
		*epoch = k.value().epoch;
	return blob;
}

SealResult<Keyring::Opened> Keyring::open(ByteView blob) const
{
	auto h = parse_sealed(blob);
	if (!h.ok())
		return h.error();
	return open(h.value());
}

SealResult<Keyring::Opened> Keyring::open(const SealedHeader &h) const
{
	auto k = opening_key(h.group, h.epoch);
	if (!k.ok())
		return k.error();
	auto routes = open_routes(*k.value().key, h);
	if (!routes.ok())
		return routes.error();
	try {
		Opened o;
		o.group = h.group;
		o.epoch = h.epoch;
		o.previous = k.value().previous;
		o.originator = h.originator;
		o.routes = std::move(routes.value());
		return o;
	} catch (const std::exception &) {
		return seal_error(SealStatus::Internal, "out of memory");
	}
}

SealResult<std::vector<Keyring::Entry>> Keyring::open_list(ByteView value) const
{
	auto list = parse_sealed_list(value);
	if (!list.ok())
		return list.error();
	try {
		std::vector<Entry> out;
		for (const SealedHeader &h : list.value())
			out.push_back(Entry{h.group, h.epoch, open(h)});
		return out;
	} catch (const std::exception &) {
		return seal_error(SealStatus::Internal, "out of memory");
	}
}

void Keyring::note_sealed(uint64_t route, uint32_t group, uint32_t epoch)
{
	noted_[route] = Noted{group, epoch};
}

void Keyring::forget(uint64_t route)
{
	noted_.erase(route);
}

std::vector<uint64_t> Keyring::stale(uint32_t group) const
{
	std::vector<uint64_t> out;
	auto it = groups_.find(group);
	for (const auto &[route, n] : noted_) {
		if (n.group != group)
			continue;
		if (it == groups_.end() || n.epoch != it->second.current.id)
			out.push_back(route);
	}
	return out;
}

} // namespace groupsec::bgp
