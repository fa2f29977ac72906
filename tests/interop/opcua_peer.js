// An independent OPC UA peer (node-opcua-client) for the cell's interoperability tests.
// Env: URL, OPC_USER, OPC_PASSWORD, NS_URI, CELL, PKI_DIR, MODE (probe | full), PARTS (full: counter goal).
// Prints one JSON object on stdout; exit code 0 when every step worked.
"use strict";
const {
  OPCUAClient, MessageSecurityMode, SecurityPolicy, AttributeIds, UserTokenType,
  TimestampsToReturn, makeBrowsePath, DataType,
} = require("node-opcua-client");
// a dependency of node-opcua-client, installed with it
const { OPCUACertificateManager } = require("node-opcua-certificate-manager");

const env = process.env;
const out = { steps: [] };
const nid = (ns, p) => `ns=${ns};s=${env.CELL}${p ? "." + p : ""}`;

async function main() {
  const certificateManager = new OPCUACertificateManager({ rootFolder: env.PKI_DIR, automaticallyAcceptUnknownCertificate: true });
  await certificateManager.initialize();
  const client = OPCUAClient.create({
    applicationName: "ironcell-interop-node",
    applicationUri: "urn:ironcell:interop:node-opcua",
    securityMode: MessageSecurityMode.SignAndEncrypt,
    securityPolicy: SecurityPolicy.Basic256Sha256,
    endpointMustExist: false,
    clientCertificateManager: certificateManager,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    requestedSessionTimeout: 20000,
  });
  await client.connect(env.URL);
  out.steps.push("connected");
  const session = await client.createSession({ type: UserTokenType.UserName, userName: env.OPC_USER, password: env.OPC_PASSWORD });
  out.steps.push("session");
  try {
    const nsArray = (await session.read({ nodeId: "ns=0;i=2255", attributeId: AttributeIds.Value })).value.value;
    const ns = nsArray.indexOf(env.NS_URI);
    out.ns = ns;
    // browse: Objects/Machines/<cell>
    const bp = await session.translateBrowsePath(makeBrowsePath("RootFolder", `/Objects/${ns}:Machines/${ns}:${env.CELL}/${ns}:PackML/${ns}:Status/${ns}:StateCurrent`));
    out.browse_status = bp.statusCode.name;
    out.browse_target = bp.targets && bp.targets.length ? bp.targets[0].targetId.toString() : null;
    const children = await session.browse(nid(ns, ""));
    out.machine_children = children.references.map((r) => r.browseName.name).sort();
    const state = await session.read({ nodeId: nid(ns, "PackML.Status.StateCurrent"), attributeId: AttributeIds.Value });
    out.state_initial = state.value.value;
    if (env.MODE === "probe") return;

    const call = async (method, args = []) => {
      const r = await session.call({ objectId: nid(ns, "PackML.BaseStateMachine"), methodId: nid(ns, `PackML.BaseStateMachine.${method}`), inputArguments: args });
      return r.statusCode.name;
    };
    const waitState = async (want, ms) => {
      const t0 = Date.now();
      while (Date.now() - t0 < ms) {
        const v = (await session.read({ nodeId: nid(ns, "PackML.Status.StateCurrent"), attributeId: AttributeIds.Value })).value.value;
        if (v === want) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    };
    // subscribe to the processed counter before starting
    const sub = await session.createSubscription2({ requestedPublishingInterval: 100, requestedMaxKeepAliveCount: 20, publishingEnabled: true });
    const seen = [];
    const item = await sub.monitor({ nodeId: nid(ns, "PackML.Admin.ProdProcessedCount"), attributeId: AttributeIds.Value },
      { samplingInterval: 50, discardOldest: true, queueSize: 100 }, TimestampsToReturn.Both);
    item.on("changed", (dv) => seen.push(dv.value.value));
    out.reset = await call("Reset");
    out.idle = await waitState(4, 10000);
    out.start = await call("Start");
    out.execute_or_later = await waitState(6, 10000) || (await waitState(17, 100));
    const goal = parseInt(env.PARTS || "2", 10);
    const t0 = Date.now();
    while (Date.now() - t0 < 30000 && !(seen.length && seen[seen.length - 1] >= goal)) await new Promise((r) => setTimeout(r, 50));
    out.counter_updates = seen;
    // a call with a bad argument must get a Bad status code
    const bad = await session.call({ objectId: nid(ns, "XrayStation.AutomaticMode"), methodId: nid(ns, "XrayStation.AutomaticMode.StartSingleJob"),
      inputArguments: [{ dataType: DataType.String, value: "" }, { dataType: DataType.String, value: "wheel" }] });
    out.bad_call = bad.statusCode.name;
    await sub.terminate();
  } finally {
    await session.close();
    await client.disconnect();
  }
}

main().then(() => { out.ok = true; console.log(JSON.stringify(out)); process.exit(0); })
  .catch((err) => { out.ok = false; out.error = String(err && err.message || err); console.log(JSON.stringify(out)); process.exit(1); });
