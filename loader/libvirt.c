// SPDX-License-Identifier: GPL-2.0
/*
 * attach --libvirt-xml FILE: libvirt's network XML (virsh net-dumpxml) read
 * with libxml2 and turned into attach's options, each through the options
 * table as if given in a config file.  An element qnat-bpf cannot honour is
 * refused by name, before anything changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "log.h"
#include "options.h"

struct xml_ctx {
	const char *path;
	struct settings *s;
	struct extras *x;
	bool *given;
	char *bridge;
	bool have_ip, have_range;
	const xmlNode *ip6; /* the IPv6 <ip>, mapped once <forward> is known */
	char fwd_mode[16];  /* <forward mode>, "" without <forward> (isolated) */
	bool nat6;	    /* <nat ipv6='yes'>: NAT66 instead of libvirt's routed IPv6 */
};

static bool named(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/* An attribute's value, "" when absent (freed with the document's strings below). */
static const char *attr(const xmlNode *n, const char *name, char *buf, size_t len)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);

	snprintf(buf, len, "%s", v ? (const char *)v : "");
	xmlFree(v);
	return buf;
}

static int refuse(struct xml_ctx *c, const xmlNode *n, const char *what)
{
	log_warnx("%s:%d: <%s>%s%s: not supported by qnat-bpf", c->path, n->line, (const char *)n->name,
		  what ? " " : "", what ? what : "");
	return -EOPNOTSUPP;
}

/* Option name with value val, as the element n gave it. */
static int set(struct xml_ctx *c, const xmlNode *n, const char *name, const char *val)
{
	char where[PATH_MAX + 64];
	bool neg;
	const struct opt *o = opt_find(name, strlen(name), &neg);

	c->given[o - attach_opts] = true;
	if (!opt_apply(o, neg, val, c->s, c->x))
		return 0;
	snprintf(where, sizeof(where), "%s:%d: <%s>", c->path, n->line, (const char *)n->name);
	opt_complain(where, o, val ? val : "");
	return -EINVAL;
}

/* <range start end> with its <lease expiry unit>, <host mac name ip>, <option name|number value>. */
static int xml_dhcp(struct xml_ctx *c, const xmlNode *dhcp)
{
	char a[128], b[128], v[400], d[128];
	int err = 0;

	for (const xmlNode *n = dhcp->children; n && !err; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (named(n, "range")) {
			if (c->have_range)
				return refuse(c, n, "(a second one)");
			c->have_range = true;
			snprintf(v, sizeof(v), "%s,%s", attr(n, "start", a, sizeof(a)), attr(n, "end", b, sizeof(b)));
			err = set(c, n, "dhcp-range", v);
			for (const xmlNode *l = n->children; l && !err; l = l->next) {
				if (!named(l, "lease"))
					continue;
				attr(l, "expiry", a, sizeof(a));
				attr(l, "unit", b, sizeof(b));
				/* libvirt: expiry 0 is infinite; the unit's first letter (default minutes) */
				snprintf(v, sizeof(v), "%s%c", a, b[0] ? b[0] : 'm');
				err = set(c, l, "dhcp-lease-time", !strcmp(a, "0") ? "infinite" : v);
			}
		} else if (named(n, "host")) {
			attr(n, "mac", a, sizeof(a));
			if (!a[0])
				return refuse(c, n, "without mac (by id)");
			if (n->children)
				return refuse(c, n, "with a <lease> of its own");
			attr(n, "name", d, sizeof(d));
			snprintf(v, sizeof(v), "%s,%s%s%s", a, attr(n, "ip", b, sizeof(b)), d[0] ? "," : "", d);
			err = set(c, n, "host", v);
		} else if (named(n, "option")) {
			attr(n, "name", a, sizeof(a));
			snprintf(v, sizeof(v), "%s,%s", a[0] ? a : attr(n, "number", d, sizeof(d)), attr(n, "value", b, sizeof(b)));
			err = set(c, n, "dhcp-option", v);
		} else {
			return refuse(c, n, NULL);
		}
	}
	return err;
}

/* <ip address netmask|prefix>: the network, the gateway, and its <dhcp>. */
static int xml_ip(struct xml_ctx *c, const xmlNode *ip)
{
	char addr[64], mask[64], prefix[16], fam[16], v[96];
	struct in_addr a, m;
	unsigned int p = 0;
	bool dhcp = false;
	int err;

	attr(ip, "family", fam, sizeof(fam));
	attr(ip, "address", addr, sizeof(addr));
	if (!strcmp(fam, "ipv6") || (!fam[0] && strchr(addr, ':'))) {
		if (c->ip6)
			return refuse(c, ip, "family='ipv6' (a second IPv6 one: qnat-bpf serves one /64)");
		c->ip6 = ip; /* after the loop: <forward> may come later */
		return 0;
	}
	if (c->have_ip)
		return refuse(c, ip, "(a second IPv4 one)");
	c->have_ip = true;
	attr(ip, "netmask", mask, sizeof(mask));
	attr(ip, "prefix", prefix, sizeof(prefix));
	if (parse_ipv4(addr, &a)) {
		log_warnx("%s:%d: <ip address='%s'>: not an IPv4 address", c->path, ip->line, addr);
		return -EINVAL;
	}
	if (mask[0]) {
		if (parse_ipv4(mask, &m)) {
			log_warnx("%s:%d: <ip netmask='%s'>: not a netmask", c->path, ip->line, mask);
			return -EINVAL;
		}
		p = __builtin_popcount(m.s_addr);
	} else if (parse_u32(prefix[0] ? prefix : "24", 1, 30, &p)) {
		log_warnx("%s:%d: <ip prefix='%s'>: expected 1 to 30", c->path, ip->line, prefix);
		return -EINVAL;
	}
	a.s_addr &= prefix_mask(p);
	snprintf(v, sizeof(v), "%s/%u", ip_str(a), p);
	if ((err = set(c, ip, "masq", v)) || (err = set(c, ip, "gateway", addr)))
		return err;
	for (const xmlNode *n = ip->children; n && !err; n = n->next) {
		if (named(n, "dhcp")) {
			dhcp = true;
			err = xml_dhcp(c, n);
		} else if (n->type == XML_ELEMENT_NODE) {
			return refuse(c, n, NULL);
		}
	}
	/* No <dhcp>: libvirt serves DNS alone; here no dnsmasq at all. */
	return err ? err : dhcp ? 0 : set(c, ip, "no-dhcp", NULL);
}

/* An IPv6 <dhcp>: its <range> alone (DHCPv6 beside SLAAC). */
static int xml_dhcp6(struct xml_ctx *c, const xmlNode *dhcp)
{
	char a[128], b[128], v[260];
	bool range = false;
	int err = 0;

	for (const xmlNode *n = dhcp->children; n && !err; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (!named(n, "range"))
			/* <host>: dnsmasq's hosts file is IPv4's here; refused, as any element qnat-bpf cannot honour */
			return refuse(c, n, "in an IPv6 <dhcp>");
		if (range)
			return refuse(c, n, "(a second one in an IPv6 <dhcp>)");
		range = true;
		for (const xmlNode *l = n->children; l; l = l->next)
			if (l->type == XML_ELEMENT_NODE) /* one lease time serves both families: the IPv4 range's */
				return refuse(c, l, "in an IPv6 <range>");
		snprintf(v, sizeof(v), "%s,%s", attr(n, "start", a, sizeof(a)), attr(n, "end", b, sizeof(b)));
		err = set(c, n, "dhcp6-range", v);
	}
	return err;
}

/*
 * <ip family='ipv6' address prefix='64'>, as libvirt maps it: NAT66 (--masq6)
 * on a nat network with <nat ipv6='yes'/>; otherwise routed (--route6), as
 * libvirt routes IPv6 on nat, route and open networks alike.  The address is
 * the bridge's (--gateway6).  SLAAC needs the /64; isolated has no IPv6 here.
 */
static int xml_ip6(struct xml_ctx *c, const xmlNode *ip)
{
	char addr[64], prefix[16], v[96];
	struct in6_addr a, net = {};
	static const uint8_t zero[8];
	unsigned int p;
	int err;

	attr(ip, "address", addr, sizeof(addr));
	attr(ip, "prefix", prefix, sizeof(prefix));
	if (parse_ipv6(addr, &a)) {
		log_warnx("%s:%d: <ip family='ipv6' address='%s'>: not an IPv6 address", c->path, ip->line, addr);
		return -EINVAL;
	}
	if (attr(ip, "netmask", v, sizeof(v))[0])
		return refuse(c, ip, "family='ipv6' with a netmask (libvirt takes a prefix)");
	/* libvirt's default IPv6 prefix is 64 */
	if (parse_u32(prefix[0] ? prefix : "64", 1, 128, &p) || p != 64) {
		log_warnx("%s:%d: <ip family='ipv6' prefix='%s'>: not supported by qnat-bpf: SLAAC needs a /64", c->path,
			  ip->line, prefix);
		return -EINVAL;
	}
	if (!memcmp(a.s6_addr + 8, zero, 8)) {
		log_warnx("%s:%d: <ip family='ipv6' address='%s'>: the /64's own address, not a host address for the bridge",
			  c->path, ip->line, addr);
		return -EINVAL;
	}
	if (!c->fwd_mode[0])
		return refuse(c, ip,
			      "family='ipv6' on an isolated network (no <forward>; qnat-bpf's --mode isolated has no IPv6)");
	memcpy(net.s6_addr, a.s6_addr, 8);
	snprintf(v, sizeof(v), "%s/64", ip6_str(&net));
	if ((err = set(c, ip, c->nat6 && !strcmp(c->fwd_mode, "nat") ? "masq6" : "route6", v)) ||
	    (err = set(c, ip, "gateway6", addr)))
		return err;
	for (const xmlNode *n = ip->children; n && !err; n = n->next) {
		if (named(n, "dhcp"))
			err = xml_dhcp6(c, n);
		else if (n->type == XML_ELEMENT_NODE)
			return refuse(c, n, "in an IPv6 <ip>");
	}
	return err;
}

/* <dns enable>: <forwarder addr domain>, <host ip><hostname/>..., <txt name value>, <srv ...>. */
static int xml_dns(struct xml_ctx *c, const xmlNode *dns)
{
	char a[128], b[128], v[300];
	int err = 0;

	if (!strcmp(attr(dns, "enable", a, sizeof(a)), "no") && (err = set(c, dns, "no-dns", NULL)))
		return err;
	if (!strcmp(attr(dns, "forwardPlainNames", a, sizeof(a)), "no"))
		return refuse(c, dns, "forwardPlainNames='no'");
	for (const xmlNode *n = dns->children; n && !err; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (named(n, "forwarder")) {
			attr(n, "domain", a, sizeof(a));
			attr(n, "addr", b, sizeof(b));
			snprintf(v, sizeof(v), "%s%s%s%s", a[0] ? "/" : "", a, a[0] ? "/" : "", b);
			err = set(c, n, "dns-forwarder", v);
		} else if (named(n, "host")) {
			attr(n, "ip", a, sizeof(a));
			for (const xmlNode *h = n->children; h && !err; h = h->next) {
				xmlChar *name;

				if (!named(h, "hostname"))
					continue;
				name = xmlNodeGetContent(h);
				snprintf(v, sizeof(v), "%s,%s", a, name ? (const char *)name : "");
				xmlFree(name);
				err = set(c, h, "dns-host", v);
			}
		} else if (named(n, "txt")) {
			snprintf(v, sizeof(v), "%s,%s", attr(n, "name", a, sizeof(a)), attr(n, "value", b, sizeof(b)));
			err = set(c, n, "dns-txt", v);
		} else if (named(n, "srv")) {
			/* libvirt's srv-host: _service._protocol[.domain][,target[,port[,priority[,weight]]]] */
			char dom[128], port[16], prio[16], weight[16];
			size_t k;

			attr(n, "domain", dom, sizeof(dom));
			k = snprintf(v, sizeof(v), "_%s._%s%s%s", attr(n, "service", a, sizeof(a)),
				     attr(n, "protocol", b, sizeof(b)), dom[0] ? "." : "", dom);
			attr(n, "target", a, sizeof(a));
			attr(n, "port", port, sizeof(port));
			attr(n, "priority", prio, sizeof(prio));
			attr(n, "weight", weight, sizeof(weight));
			if (a[0] && strcmp(a, ".") && k < sizeof(v)) {
				bool p = atoi(port), pr = atoi(prio), w = atoi(weight);

				k += snprintf(v + k, sizeof(v) - k, ",%s", a);
				if ((p || pr || w) && k < sizeof(v))
					k += snprintf(v + k, sizeof(v) - k, ",%d", p ? atoi(port) : 1);
				if ((pr || w) && k < sizeof(v))
					k += snprintf(v + k, sizeof(v) - k, ",%d", atoi(prio));
				if (w && k < sizeof(v))
					snprintf(v + k, sizeof(v) - k, ",%d", atoi(weight));
			}
			err = set(c, n, "dns-srv", v);
		} else {
			return refuse(c, n, NULL);
		}
	}
	return err;
}

/* <forward mode dev>, and <nat><port start end/></nat>. */
static int xml_forward(struct xml_ctx *c, const xmlNode *fw)
{
	char mode[32], dev[64], a[16], b[16], v[40];
	int err = 0;

	attr(fw, "mode", mode, sizeof(mode));
	if (!mode[0])
		strcpy(mode, "nat");
	if (strcmp(mode, "nat") && strcmp(mode, "route") && strcmp(mode, "open")) {
		snprintf(v, sizeof(v), "mode='%s'", mode);
		return refuse(c, fw, v);
	}
	if ((err = set(c, fw, "mode", mode)))
		return err;
	snprintf(c->fwd_mode, sizeof(c->fwd_mode), "%s", mode);
	if (attr(fw, "dev", dev, sizeof(dev))[0] && (err = set(c, fw, "uplink", dev)))
		return err;
	for (const xmlNode *n = fw->children; n && !err; n = n->next) {
		if (!named(n, "nat")) {
			if (n->type == XML_ELEMENT_NODE)
				return refuse(c, n, NULL);
			continue;
		}
		/* libvirt: ipv6='yes' masquerades IPv6 too; without it, a nat network routes its IPv6 */
		c->nat6 = !strcmp(attr(n, "ipv6", a, sizeof(a)), "yes");
		for (const xmlNode *p = n->children; p && !err; p = p->next) {
			if (named(p, "port")) {
				snprintf(v, sizeof(v), "%s-%s", attr(p, "start", a, sizeof(a)), attr(p, "end", b, sizeof(b)));
				err = set(c, p, "port-range", v);
			} else if (p->type == XML_ELEMENT_NODE) {
				return refuse(c, p, NULL);
			}
		}
	}
	return err;
}

static int xml_network(struct xml_ctx *c, const xmlNode *net)
{
	char a[128];
	bool forward = false;
	int err = 0;

	for (const xmlNode *n = net->children; n && !err; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || named(n, "name") || named(n, "uuid"))
			continue;
		/* The bridge's MAC is the kernel's choice here; libvirt's is a stable default, not a policy. */
		if (named(n, "mac"))
			continue;
		if (named(n, "bridge")) {
			attr(n, "name", a, sizeof(a));
			if (!valid_ifname(a)) {
				log_warnx("%s:%d: <bridge name='%s'>: not a valid interface name", c->path, n->line, a);
				return -EINVAL;
			}
			strcpy(c->bridge, a); /* valid_ifname: it fits */
		} else if (named(n, "forward")) {
			forward = true;
			err = xml_forward(c, n);
		} else if (named(n, "ip")) {
			err = xml_ip(c, n);
		} else if (named(n, "dns")) {
			err = xml_dns(c, n);
		} else if (named(n, "domain")) {
			err = set(c, n, "domain", attr(n, "name", a, sizeof(a)));
			if (!err && !strcmp(attr(n, "localOnly", a, sizeof(a)), "yes"))
				err = set(c, n, "domain-local-only", NULL);
		} else if (named(n, "mtu")) {
			err = set(c, n, "mtu", attr(n, "size", a, sizeof(a)));
		} else {
			return refuse(c, n, NULL);
		}
	}
	if (!err && c->ip6)
		err = xml_ip6(c, c->ip6);
	/* No <forward>: libvirt's isolated network. */
	return err || forward ? err : set(c, net, "mode", "isolated");
}

/* The XML's options into s and x (given[] marks them); bridge gets <bridge name>. */
int libvirt_xml_apply(const char *path, struct settings *s, struct extras *x, bool given[OPTS_MAX], char *bridge)
{
	struct xml_ctx c = { .path = strcmp(path, "-") ? path : "stdin", .s = s, .x = x, .given = given, .bridge = bridge };
	int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	xmlDoc *doc = strcmp(path, "-") ? xmlReadFile(path, NULL, opts) : xmlReadFd(STDIN_FILENO, "stdin", NULL, opts);
	const xmlNode *root;
	int err;

	bridge[0] = '\0';
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "cannot read it");
		msg[strcspn(msg, "\n")] = '\0';
		log_warnx("%s:%d: not libvirt network XML: %s", c.path, e ? e->line : 0, msg);
		return -EINVAL;
	}
	root = xmlDocGetRootElement(doc);
	/* libvirt's hooks get the network inside <hookData>. */
	for (const xmlNode *n = root && named(root, "hookData") ? root->children : NULL; n; n = n->next)
		if (named(n, "network"))
			root = n;
	if (!root || !named(root, "network")) {
		log_warnx("%s: not libvirt network XML: the root element is <%s>, not <network>", c.path,
			  root ? (const char *)root->name : "");
		err = -EINVAL;
	} else {
		err = xml_network(&c, root);
	}
	xmlFreeDoc(doc);
	return err;
}
