/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: vtysh's side of the `crypto gdoi group NAME` node.
 *
 * vtysh tracks the node it is in itself: it needs the node (same number as
 * bgpd's, bgpd-plugin/bgp_gsa_node.h), the command that enters it (bgpd
 * checks the name first; vtysh enters the node only if bgpd did) and the
 * ways out. rebuild-vtysh.sh appends this file, after bgp_gsa_node.h, to
 * the vtysh_cmd.c it generates and calls gsa_vtysh_init() from
 * vtysh_init_cmd(); the node's other commands come from bgp_gsa_gdoi.c
 * through FRR's extractor like every daemon command.
 */

static struct cmd_node gsa_gdoi_vtysh_node = {
	.name = "crypto gdoi group",
	.node = GSA_GDOI_NODE,
	.parent_node = CONFIG_NODE,
	.prompt = GSA_GDOI_PROMPT,
};

DEFUNSH(VTYSH_BGPD, gsa_crypto_gdoi_group, gsa_crypto_gdoi_group_cmd,
	"crypto gdoi group WORD",
	"Security\n"
	"Group Domain of Interpretation (G-IKEv2, RFC 9838)\n"
	"A group of charon's gdoi plugin\n"
	"Group name (letters, digits, '-', '_')\n")
{
	vty->node = GSA_GDOI_NODE;
	return CMD_SUCCESS;
}

DEFUNSH(VTYSH_BGPD, gsa_gdoi_exit, gsa_gdoi_exit_cmd, "exit",
	"Exit current mode and down to previous mode\n")
{
	vty->node = CONFIG_NODE;
	return CMD_SUCCESS;
}

DEFUNSH(VTYSH_BGPD, gsa_gdoi_quit, gsa_gdoi_quit_cmd, "quit",
	"Exit current mode and down to previous mode\n")
{
	vty->node = CONFIG_NODE;
	return CMD_SUCCESS;
}

DEFUNSH(VTYSH_REALLYALL, gsa_gdoi_end, gsa_gdoi_end_cmd, "end",
	"End current mode and change to enable mode\n")
{
	vty->node = ENABLE_NODE;
	return CMD_SUCCESS;
}

static void gsa_vtysh_init(void)
{
	install_node(&gsa_gdoi_vtysh_node);
	install_element(CONFIG_NODE, &gsa_crypto_gdoi_group_cmd);
	install_element(GSA_GDOI_NODE, &gsa_gdoi_exit_cmd);
	install_element(GSA_GDOI_NODE, &gsa_gdoi_quit_cmd);
	install_element(GSA_GDOI_NODE, &gsa_gdoi_end_cmd);
}
