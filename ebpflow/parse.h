/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * parse.h - header parsing of the in-kernel meter: Ethernet, 802.1Q/802.1ad
 * tags, IPv4 (options, fragments), IPv6 (a bounded walk of the extension
 * headers), and the transport header (TCP, UDP, UDP-Lite, SCTP ports; ICMP
 * and ICMPv6 type/code).  It fills a zeroed struct flow_key and a struct
 * pkt_meta and never writes to the packet.
 *
 * Every header is copied onto the stack before it is read: straight from the
 * linear part of the skb when it lies there (the common case, no helper
 * call), else with bpf_skb_load_bytes() (paged skbs, deep extension headers).
 * A header that is not complete inside the packet (and, past the IP header,
 * inside the IP length) makes the whole packet "unparsed": parse_packet()
 * returns a negative value and the caller only counts it.
 */
#ifndef EBPFLOW_PARSE_H
#define EBPFLOW_PARSE_H

/* Tests compile the template once more with this set to 1 so that the
 * bpf_skb_load_bytes() path sees the whole corpus too (test_run skbs are
 * always linear).
 */
#ifndef FLOWCTL_PKT_LOAD_BYTES_ONLY
#define FLOWCTL_PKT_LOAD_BYTES_ONLY 0
#endif

#define PARSE_MAX_VLAN_TAGS	2	/* in-band tags: QinQ */
#define PARSE_MAX_IPV6_EXT	6	/* extension headers walked */
/* Direct reads only below this offset: keeps the verifier's packet range
 * bounded; anything deeper goes through bpf_skb_load_bytes().
 */
#define PARSE_MAX_DIRECT_OFF	512

#define PARSE_IP_MF		0x2000	/* IPv4 more fragments */
#define PARSE_IP_OFFSET		0x1fff	/* IPv4 fragment offset (8 bytes) */
#define PARSE_IP6_OFFSET	0xfff8	/* IPv6 fragment offset */
#define PARSE_VLAN_VID_MASK	0x0fff

/* One 802.1Q/802.1ad tag as it sits after the MAC addresses. */
struct parse_vlan_tag {
	__be16 tci;
	__be16 next_proto;
};

/* The first 8 bytes of any IPv6 extension header (each is >= 8 bytes);
 * frag_off is meaningful for the fragment header only.
 */
struct parse_ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off;
	__be32 ident;
};

/* The first 4 bytes of a transport header: ports, or ICMP type and code. */
struct parse_l4_head {
	__be16 sport;
	__be16 dport;
};

/* The first 16 bytes of a TCP header (it has at least 20). */
struct parse_tcp_head {
	__be16 sport;
	__be16 dport;
	__be32 seq;
	__be32 ack_seq;
	__u8 doff_ns;		/* data offset (4 bits), reserved, NS */
	__u8 flags;		/* CWR ECE URG ACK PSH RST SYN FIN */
	__be16 window;
};

/* What the parser learns besides the key. */
struct pkt_meta {
	__u32 ip_len;		/* IP header + payload (GSO: all of it) */
	__u32 hdr_len;		/* IP (+ ext) + transport header: what
				 * every segment of a GSO packet repeats */
	__u32 tcp_flags;	/* 9 bits, NS..FIN */
	__u32 flags;		/* FLOW_F_FRAGMENT, FLOW_F_END_SEEN */
	__u8 ttl;		/* TTL / hop limit */
};

/*
 * Copy *HDR (a fixed-size header struct) from offset OFF of the packet.
 * Returns 0, or < 0 when the header is not complete inside the skb.
 */
#define PKT_LOAD(skb, off, hdr)						\
({									\
	void *data_ = (void *)(long)(skb)->data;			\
	void *data_end_ = (void *)(long)(skb)->data_end;		\
	__u32 off_ = (off);						\
	long ret_ = 0;							\
									\
	if (!FLOWCTL_PKT_LOAD_BYTES_ONLY &&				\
	    off_ <= PARSE_MAX_DIRECT_OFF &&				\
	    data_ + off_ + sizeof(*(hdr)) <= data_end_)			\
		*(hdr) = *(typeof(hdr))(data_ + off_);			\
	else								\
		ret_ = bpf_skb_load_bytes(skb, off_, hdr, sizeof(*(hdr))); \
	ret_;								\
})

static __always_inline void parse_ipv4_mapped(__u8 *dst, __be32 addr)
{
	__u32 *w = (__u32 *)dst;

	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0x0000ffff);
	w[3] = addr;
}

/*
 * Transport header at OFF; END is where the IP packet ends.  ICMP_PROTO is
 * the ICMP of this IP version (ICMP for IPv4, ICMPv6 for IPv6); the other
 * one is keyed without type/code.
 */
static __always_inline int parse_l4(struct __sk_buff *skb, __u32 off,
				    __u32 end, __u8 icmp_proto,
				    struct flow_key *key, struct pkt_meta *meta)
{
	struct parse_tcp_head th;
	struct parse_l4_head l4;
	__u32 need, doff, tcp_flags;

	switch (key->proto) {
	case IPPROTO_TCP:
		if (off + sizeof(struct tcphdr) > end ||
		    PKT_LOAD(skb, off, &th))
			return -1;
		doff = (th.doff_ns >> 4) * 4;
		if (doff < sizeof(struct tcphdr) || off + doff > end)
			return -1;
		tcp_flags = ((th.doff_ns & 1) << 8) | th.flags;
		key->sport = th.sport;
		key->dport = th.dport;
		meta->tcp_flags = tcp_flags;
		if (tcp_flags & (FLOW_TCP_FIN | FLOW_TCP_RST))
			meta->flags |= FLOW_F_END_SEEN;
		meta->hdr_len += doff;
		return 0;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		need = 8;
		break;
	case IPPROTO_SCTP:
		need = 12;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (key->proto != icmp_proto)
			return 0;
		need = 8;
		break;
	default:
		return 0;	/* keyed without ports */
	}
	if (off + need > end || PKT_LOAD(skb, off, &l4))
		return -1;
	if (key->proto == icmp_proto) {
		__u8 *b = (__u8 *)&l4;

		/* icmpTypeCode: type * 256 + code, network order */
		key->dport = bpf_htons((b[0] << 8) | b[1]);
		return 0;
	}
	key->sport = l4.sport;
	key->dport = l4.dport;
	meta->hdr_len += need;
	return 0;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, __u32 off,
				      struct flow_key *key,
				      struct pkt_meta *meta)
{
	__u32 hlen, ip_len, frag;
	struct iphdr iph;

	if (PKT_LOAD(skb, off, &iph))
		return -1;
	if (iph.version != 4 || iph.ihl < 5)
		return -1;
	hlen = iph.ihl * 4;
	ip_len = bpf_ntohs(iph.tot_len);
	/* BIG TCP GSO packets carry tot_len 0: the skb tells the length */
	if (ip_len == 0 && skb->gso_size)
		ip_len = skb->len - off;
	if (ip_len < hlen || ip_len > skb->len - off)
		return -1;

	key->ip_version = 4;
	key->proto = iph.protocol;
	key->tos = iph.tos;
	parse_ipv4_mapped(key->src_addr, iph.saddr);
	parse_ipv4_mapped(key->dst_addr, iph.daddr);
	meta->ttl = iph.ttl;
	meta->ip_len = ip_len;
	meta->hdr_len = hlen;

	frag = bpf_ntohs(iph.frag_off);
	if (frag & (PARSE_IP_MF | PARSE_IP_OFFSET)) {
		meta->flags |= FLOW_F_FRAGMENT;
		/* only the first fragment carries the transport header */
		if (frag & PARSE_IP_OFFSET)
			return 0;
	}
	return parse_l4(skb, off + hlen, off + ip_len, IPPROTO_ICMP, key,
			meta);
}

static __always_inline int parse_ipv6_is_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_DSTOPTS ||
	       nexthdr == IPPROTO_AH;
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 off,
				      struct flow_key *key,
				      struct pkt_meta *meta)
{
	__u32 ip_len, end, l4_off;
	struct ipv6hdr ip6h;
	__u8 nexthdr, *b;
	int i;

	if (PKT_LOAD(skb, off, &ip6h))
		return -1;
	if (ip6h.version != 6)
		return -1;
	ip_len = sizeof(ip6h) + bpf_ntohs(ip6h.payload_len);
	/* BIG TCP GSO packets carry payload_len 0 */
	if (ip6h.payload_len == 0 && skb->gso_size)
		ip_len = skb->len - off;
	if (ip_len > skb->len - off)
		return -1;

	b = (__u8 *)&ip6h;
	key->ip_version = 6;
	/* traffic class: the 8 bits after the version */
	key->tos = ((b[0] & 0x0f) << 4) | (b[1] >> 4);
	__builtin_memcpy(key->src_addr, &ip6h.saddr, 16);
	__builtin_memcpy(key->dst_addr, &ip6h.daddr, 16);
	meta->ttl = ip6h.hop_limit;
	meta->ip_len = ip_len;

	end = off + ip_len;
	l4_off = off + sizeof(ip6h);
	nexthdr = ip6h.nexthdr;
#pragma unroll
	for (i = 0; i < PARSE_MAX_IPV6_EXT; i++) {
		struct parse_ipv6_ext ext;
		__u32 len;

		if (!parse_ipv6_is_ext(nexthdr))
			break;
		if (l4_off + sizeof(ext) > end || PKT_LOAD(skb, l4_off, &ext))
			return -1;
		if (nexthdr == IPPROTO_FRAGMENT) {
			meta->flags |= FLOW_F_FRAGMENT;
			if (ext.frag_off & bpf_htons(PARSE_IP6_OFFSET)) {
				/* later fragment: no transport header */
				key->proto = ext.nexthdr;
				meta->hdr_len = l4_off + sizeof(ext) - off;
				return 0;
			}
			len = sizeof(ext);
		} else if (nexthdr == IPPROTO_AH) {
			len = (ext.hdrlen + 2) * 4;
		} else {
			len = (ext.hdrlen + 1) * 8;
		}
		nexthdr = ext.nexthdr;
		l4_off += len;
	}
	if (l4_off > end)
		return -1;
	key->proto = nexthdr;
	meta->hdr_len = l4_off - off;
	/* a longer chain than we walk: keyed by the header we stopped at */
	if (parse_ipv6_is_ext(nexthdr))
		return 0;
	return parse_l4(skb, l4_off, end, IPPROTO_ICMPV6, key, meta);
}

/*
 * Parse the frame of SKB into KEY (zeroed by the caller) and META.
 * Returns 0, or < 0 for anything that is not a complete IPv4/IPv6 packet.
 */
static __always_inline int parse_packet(struct __sk_buff *skb,
					struct flow_key *key,
					struct pkt_meta *meta)
{
	__u32 off = sizeof(struct ethhdr);
	int tagged, i;
	__be16 proto;

	/* of the Ethernet header only the ethertype matters */
	if (PKT_LOAD(skb, offsetof(struct ethhdr, h_proto), &proto))
		return -1;
	/* an offloaded tag (skb->vlan_tci) is the outer one */
	tagged = skb->vlan_present;
	if (tagged)
		key->vlan_id = skb->vlan_tci & PARSE_VLAN_VID_MASK;
#pragma unroll
	for (i = 0; i < PARSE_MAX_VLAN_TAGS; i++) {
		struct parse_vlan_tag tag;

		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		if (PKT_LOAD(skb, off, &tag))
			return -1;
		if (!tagged) {
			key->vlan_id = bpf_ntohs(tag.tci) & PARSE_VLAN_VID_MASK;
			tagged = 1;
		}
		proto = tag.next_proto;
		off += sizeof(tag);
	}
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(skb, off, key, meta);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(skb, off, key, meta);
	return -1;	/* ARP, unknown ethertype, a third VLAN tag */
}

#endif /* EBPFLOW_PARSE_H */
