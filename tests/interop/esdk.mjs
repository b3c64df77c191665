// The AWS Encryption SDK for JavaScript (@aws-crypto/client-node) with KMS keyrings whose KMS
// clients (@aws-sdk/client-kms) talk to a real trent server.
//
// Driven by tests/e2e/test_interop_encryption_sdk.py: one JSON request on stdin, one JSON result on
// stdout. A request is {"endpoint", "op": "encrypt" | "decrypt", "keyring": {...}, ...}; the keyring
// is described as
//   {"generator": ARN, "keyIds": [ARN...]}              KmsKeyringNode naming keys
//   {"discovery": true, "filter": {accountIDs, partition}}  KmsKeyringNode in discovery mode
//   {"mrk": "strict", "generator": ARN, "keyIds": [...]}   the MRK-aware strict multi-keyring
//   {"mrk": "discovery", "regions": [...], "filter": {...}} the MRK-aware discovery multi-keyring
// and "clientFromEnv": true leaves the KMS client to the SDK's defaults (AWS_ENDPOINT_URL_KMS and the
// credentials in the environment), as an unmodified program would. Every KMS call the keyring makes
// is recorded (region, operation, KeyId) and returned as "calls".
import assert from "node:assert/strict";

import {
  CommitmentPolicy,
  KMS,
  KmsKeyringNode,
  buildAwsKmsMrkAwareDiscoveryMultiKeyringNode,
  buildAwsKmsMrkAwareStrictMultiKeyringNode,
  buildClient,
  getClient,
  getKmsClient,
} from "@aws-crypto/client-node";

import { readRequest, writeResult, b64, unb64 } from "./io.mjs";

const request = await readRequest();
const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

const calls = [];
const baseProvider = request.keyring.clientFromEnv
  ? getKmsClient
  : getClient(KMS, {
      endpoint: request.endpoint,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });

function clientProvider(region) {
  const client = baseProvider(region);
  if (!client) return client;
  for (const operation of ["encrypt", "decrypt", "generateDataKey"]) {
    const original = client[operation].bind(client);
    client[operation] = (input) => {
      calls.push({ region, operation, keyId: input.KeyId ?? null });
      return original(input);
    };
  }
  return client;
}

function keyring(spec) {
  if (spec.mrk === "strict") {
    return buildAwsKmsMrkAwareStrictMultiKeyringNode({
      generatorKeyId: spec.generator,
      keyIds: spec.keyIds ?? [],
      clientProvider,
    });
  }
  if (spec.mrk === "discovery") {
    return buildAwsKmsMrkAwareDiscoveryMultiKeyringNode({
      regions: spec.regions,
      discoveryFilter: spec.filter,
      clientProvider,
    });
  }
  if (spec.discovery) {
    return new KmsKeyringNode({ discovery: true, discoveryFilter: spec.filter, clientProvider });
  }
  return new KmsKeyringNode({ generatorKeyId: spec.generator, keyIds: spec.keyIds ?? [], clientProvider });
}

function describe(header) {
  return {
    encryptionContext: header.encryptionContext,
    suiteId: header.suiteId,
    version: header.version,
    messageId: b64(header.messageId),
    encryptedDataKeys: header.encryptedDataKeys.map((edk) => ({
      providerId: edk.providerId,
      providerInfo: edk.providerInfo,
      encryptedDataKey: b64(edk.encryptedDataKey),
    })),
  };
}

async function run() {
  const ring = keyring(request.keyring);
  if (request.op === "encrypt") {
    const plaintext = unb64(request.plaintext);
    const options = { encryptionContext: request.encryptionContext ?? {} };
    if (request.frameLength) options.frameLength = request.frameLength;
    const { result, messageHeader } = await encrypt(ring, plaintext, options);
    // What this keyring wrote it can read back, before anyone else tries.
    const back = await decrypt(ring, result);
    assert.deepEqual(Buffer.from(back.plaintext), Buffer.from(plaintext));
    return { ciphertext: b64(result), header: describe(messageHeader) };
  }
  if (request.op === "decrypt") {
    const { plaintext, messageHeader } = await decrypt(ring, unb64(request.ciphertext));
    return { plaintext: b64(plaintext), header: describe(messageHeader) };
  }
  throw new Error(`unknown op ${request.op}`);
}

try {
  writeResult({ ok: true, ...(await run()), calls });
} catch (error) {
  if (!request.expectError) throw error;
  writeResult({ ok: false, error: { name: error.name, message: error.message }, calls });
}
