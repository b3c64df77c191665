// The AWS SDK for JavaScript v3 (@aws-sdk/client-kms) against a real trent server.
//
// Driven by tests/e2e/test_interop_js_sdk.py: one JSON request on stdin
// ({"endpoint", "region", "scenario", ...}), one JSON result on stdout. Each scenario checks what the
// SDK itself sees with node:assert (a failed check exits non-zero with the reason on stderr) and
// returns what the Python side cross-checks with boto3 and cryptography.
import assert from "node:assert/strict";
import crypto from "node:crypto";

import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisabledException,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GetPublicKeyCommand,
  InvalidCiphertextException,
  InvalidKeyUsageException,
  InvalidMarkerException,
  KMSClient,
  KMSInvalidSignatureException,
  KMSServiceException,
  ListKeysCommand,
  NotFoundException,
  SignCommand,
  VerifyCommand,
  paginateListKeys,
} from "@aws-sdk/client-kms";

import { readRequest, writeResult, b64, unb64 } from "./io.mjs";

const request = await readRequest();
const kms = new KMSClient({
  endpoint: request.endpoint,
  region: request.region,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
});

// The SDK's modeled exception, or a failure naming what came back instead.
async function expectError(promise, ExceptionClass, name) {
  try {
    const output = await promise;
    assert.fail(`expected ${name}, got a success: ${JSON.stringify(output)}`);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    assert.equal(error.name, name, `error name (${error.message})`);
    assert.ok(error instanceof ExceptionClass, `${error.name} is not the SDK's ${ExceptionClass.name} class`);
    assert.ok(error instanceof KMSServiceException, "not a KMSServiceException");
    assert.equal(error.$fault, "client");
    assert.equal(error.$metadata.httpStatusCode, 400);
    assert.ok(error.$metadata.requestId, "no request id");
    return { name: error.name, message: error.message, status: error.$metadata.httpStatusCode };
  }
}

async function createKey(input) {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand(input));
  assert.match(KeyMetadata.KeyId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(KeyMetadata.Arn, `arn:aws:kms:${request.region}:${request.account}:key/${KeyMetadata.KeyId}`);
  assert.equal(KeyMetadata.Enabled, true);
  assert.equal(KeyMetadata.KeyState, "Enabled");
  assert.ok(KeyMetadata.CreationDate instanceof Date, "CreationDate is not parsed as a Date");
  return KeyMetadata;
}

const scenarios = {
  // CreateKey, DescribeKey, Encrypt and Decrypt with an encryption context; the Python side decrypts
  // what the SDK encrypted and hands back a ciphertext of its own (request.boto3Ciphertext).
  async symmetric() {
    const key = await createKey({ Description: "js sdk", Tags: [{ TagKey: "client", TagValue: "js" }] });
    assert.equal(key.KeySpec, "SYMMETRIC_DEFAULT");
    assert.equal(key.KeyUsage, "ENCRYPT_DECRYPT");
    assert.deepEqual(key.EncryptionAlgorithms, ["SYMMETRIC_DEFAULT"]);
    assert.equal(key.Description, "js sdk");

    const described = (await kms.send(new DescribeKeyCommand({ KeyId: key.Arn }))).KeyMetadata;
    assert.equal(described.KeyId, key.KeyId);
    assert.equal(described.CreationDate.getTime(), key.CreationDate.getTime());

    const plaintext = new TextEncoder().encode("card 4111 from node");
    const context = { app: "shop", order: "42" };
    const encrypted = await kms.send(
      new EncryptCommand({ KeyId: key.KeyId, Plaintext: plaintext, EncryptionContext: context }),
    );
    assert.equal(encrypted.KeyId, key.Arn);
    assert.equal(encrypted.EncryptionAlgorithm, "SYMMETRIC_DEFAULT");
    assert.ok(encrypted.CiphertextBlob instanceof Uint8Array);
    assert.ok(encrypted.CiphertextBlob.length > plaintext.length);

    const decrypted = await kms.send(
      new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: context }),
    );
    assert.equal(decrypted.KeyId, key.Arn);
    assert.deepEqual(Buffer.from(decrypted.Plaintext), Buffer.from(plaintext));

    // Naming the key on Decrypt, as the Encryption SDKs do, gives the same answer.
    const named = await kms.send(
      new DecryptCommand({ KeyId: key.Arn, CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: context }),
    );
    assert.deepEqual(Buffer.from(named.Plaintext), Buffer.from(plaintext));

    const wrongContext = await expectError(
      kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { app: "other" } })),
      InvalidCiphertextException,
      "InvalidCiphertextException",
    );
    const noContext = await expectError(
      kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob })),
      InvalidCiphertextException,
      "InvalidCiphertextException",
    );

    const fromBoto3 = await kms.send(
      new DecryptCommand({ CiphertextBlob: unb64(request.boto3Ciphertext), EncryptionContext: request.boto3Context }),
    );
    return {
      keyId: key.KeyId,
      arn: key.Arn,
      ciphertext: b64(encrypted.CiphertextBlob),
      context,
      plaintext: b64(plaintext),
      boto3Plaintext: b64(fromBoto3.Plaintext),
      boto3KeyId: fromBoto3.KeyId,
      errors: [wrongContext, noContext],
    };
  },

  // GenerateDataKey (both sizes), GenerateDataKeyWithoutPlaintext; the data key decrypts back.
  async dataKey() {
    const key = await createKey({});
    const context = { purpose: "envelope" };
    const aes256 = await kms.send(
      new GenerateDataKeyCommand({ KeyId: key.Arn, KeySpec: "AES_256", EncryptionContext: context }),
    );
    assert.equal(aes256.KeyId, key.Arn);
    assert.equal(aes256.Plaintext.length, 32);
    const aes128 = await kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, NumberOfBytes: 16 }));
    assert.equal(aes128.Plaintext.length, 16);
    assert.notDeepEqual(Buffer.from(aes128.Plaintext), Buffer.from(aes256.Plaintext.subarray(0, 16)));

    const back = await kms.send(new DecryptCommand({ CiphertextBlob: aes256.CiphertextBlob, EncryptionContext: context }));
    assert.deepEqual(Buffer.from(back.Plaintext), Buffer.from(aes256.Plaintext));

    const sealed = await kms.send(
      new GenerateDataKeyWithoutPlaintextCommand({ KeyId: key.KeyId, KeySpec: "AES_256", EncryptionContext: context }),
    );
    assert.equal(sealed.Plaintext, undefined);
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: context }));
    assert.equal(opened.Plaintext.length, 32);

    // Envelope encryption with the data key, in node's own AES-GCM.
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", aes256.Plaintext, iv);
    const sealedRecord = Buffer.concat([cipher.update("record"), cipher.final()]);
    const decipher = crypto.createDecipheriv("aes-256-gcm", back.Plaintext, iv);
    decipher.setAuthTag(cipher.getAuthTag());
    assert.equal(Buffer.concat([decipher.update(sealedRecord), decipher.final()]).toString(), "record");

    return {
      arn: key.Arn,
      context,
      plaintext: b64(aes256.Plaintext),
      ciphertext: b64(aes256.CiphertextBlob),
      withoutPlaintext: b64(sealed.CiphertextBlob),
    };
  },

  // An ECC_NIST_P256 signing key: Sign (RAW and DIGEST), Verify, GetPublicKey, and the signature
  // checked offline by node:crypto with the public key KMS handed out.
  async signVerify() {
    const key = await createKey({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", Description: "js signer" });
    assert.equal(key.KeySpec, "ECC_NIST_P256");
    assert.equal(key.KeyUsage, "SIGN_VERIFY");
    assert.deepEqual(key.SigningAlgorithms, ["ECDSA_SHA_256"]);

    const message = new TextEncoder().encode("pay 10 EUR to bob");
    const signed = await kms.send(
      new SignCommand({ KeyId: key.KeyId, Message: message, MessageType: "RAW", SigningAlgorithm: "ECDSA_SHA_256" }),
    );
    assert.equal(signed.KeyId, key.Arn);
    assert.equal(signed.SigningAlgorithm, "ECDSA_SHA_256");

    const verified = await kms.send(
      new VerifyCommand({
        KeyId: key.Arn,
        Message: message,
        MessageType: "RAW",
        Signature: signed.Signature,
        SigningAlgorithm: "ECDSA_SHA_256",
      }),
    );
    assert.equal(verified.SignatureValid, true);
    assert.equal(verified.KeyId, key.Arn);

    const tampered = await expectError(
      kms.send(
        new VerifyCommand({
          KeyId: key.Arn,
          Message: new TextEncoder().encode("pay 99 EUR to eve"),
          MessageType: "RAW",
          Signature: signed.Signature,
          SigningAlgorithm: "ECDSA_SHA_256",
        }),
      ),
      KMSInvalidSignatureException,
      "KMSInvalidSignatureException",
    );

    const digest = crypto.createHash("sha256").update(message).digest();
    const digestSigned = await kms.send(
      new SignCommand({ KeyId: key.Arn, Message: digest, MessageType: "DIGEST", SigningAlgorithm: "ECDSA_SHA_256" }),
    );

    const publicKey = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId }));
    assert.equal(publicKey.KeyId, key.Arn);
    assert.equal(publicKey.KeySpec, "ECC_NIST_P256");
    assert.equal(publicKey.KeyUsage, "SIGN_VERIFY");
    assert.deepEqual(publicKey.SigningAlgorithms, ["ECDSA_SHA_256"]);
    const spki = crypto.createPublicKey({ key: Buffer.from(publicKey.PublicKey), format: "der", type: "spki" });
    assert.equal(spki.asymmetricKeyType, "ec");
    assert.equal(spki.asymmetricKeyDetails.namedCurve, "prime256v1");
    // KMS signatures are DER-encoded ECDSA (r, s), which is node's default encoding.
    assert.equal(crypto.verify("sha256", message, spki, Buffer.from(signed.Signature)), true);
    assert.equal(crypto.verify("sha256", message, spki, Buffer.from(digestSigned.Signature)), true);
    assert.equal(crypto.verify("sha256", Buffer.from("other"), spki, Buffer.from(signed.Signature)), false);

    return {
      arn: key.Arn,
      message: b64(message),
      signature: b64(signed.Signature),
      digestSignature: b64(digestSigned.Signature),
      publicKey: b64(publicKey.PublicKey),
      tampered,
    };
  },

  // Errors as the SDK sees them: the modeled exception class, its name, the client fault, HTTP 400.
  async errors() {
    const key = await createKey({});
    const garbage = await expectError(
      kms.send(new DecryptCommand({ CiphertextBlob: crypto.randomBytes(64) })),
      InvalidCiphertextException,
      "InvalidCiphertextException",
    );
    // A real ciphertext, one byte flipped in its tail.
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from("x") }));
    const flipped = Buffer.from(CiphertextBlob);
    flipped[flipped.length - 1] ^= 1;
    const tamperedCiphertext = await expectError(
      kms.send(new DecryptCommand({ CiphertextBlob: flipped })),
      InvalidCiphertextException,
      "InvalidCiphertextException",
    );
    const missing = await expectError(
      kms.send(new DescribeKeyCommand({ KeyId: crypto.randomUUID() })),
      NotFoundException,
      "NotFoundException",
    );
    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    const disabled = await expectError(
      kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from("x") })),
      DisabledException,
      "DisabledException",
    );
    const symmetric = await createKey({});
    const wrongUsage = await expectError(
      kms.send(
        new SignCommand({
          KeyId: symmetric.KeyId,
          Message: Buffer.from("m"),
          MessageType: "RAW",
          SigningAlgorithm: "ECDSA_SHA_256",
        }),
      ),
      InvalidKeyUsageException,
      "InvalidKeyUsageException",
    );
    return { garbage, tamperedCiphertext, missing, disabled, wrongUsage, disabledKey: key.Arn };
  },

  // ListKeys page by page with Limit and Marker by hand, then with the SDK's paginator.
  async listKeys() {
    const created = [];
    for (let i = 0; i < request.create; i += 1) created.push((await createKey({ Description: `page ${i}` })).KeyId);

    const byHand = [];
    const pages = [];
    let marker;
    for (;;) {
      const page = await kms.send(new ListKeysCommand({ Limit: request.limit, Marker: marker }));
      assert.ok(page.Keys.length <= request.limit, `page of ${page.Keys.length} > Limit ${request.limit}`);
      for (const entry of page.Keys) {
        assert.equal(entry.KeyArn, `arn:aws:kms:${request.region}:${request.account}:key/${entry.KeyId}`);
        byHand.push(entry.KeyId);
      }
      pages.push({ size: page.Keys.length, truncated: page.Truncated, marker: page.NextMarker ?? null });
      if (!page.Truncated) {
        assert.equal(page.NextMarker, undefined, "NextMarker on the last page");
        break;
      }
      assert.ok(page.NextMarker, "Truncated without NextMarker");
      marker = page.NextMarker;
      assert.ok(pages.length < 1000, "ListKeys never ends");
    }
    assert.equal(new Set(byHand).size, byHand.length, "a key listed twice");
    for (const id of created) assert.ok(byHand.includes(id), `created key ${id} not listed`);

    const paginated = [];
    let paginatorPages = 0;
    for await (const page of paginateListKeys({ client: kms, pageSize: request.limit }, {})) {
      paginatorPages += 1;
      paginated.push(...page.Keys.map((entry) => entry.KeyId));
    }
    assert.deepEqual(paginated, byHand);
    assert.equal(paginatorPages, pages.length);

    const invalidMarker = await expectError(
      kms.send(new ListKeysCommand({ Limit: request.limit, Marker: "not-a-marker-trent-issued" })),
      InvalidMarkerException,
      "InvalidMarkerException",
    );
    return { created, listed: byHand, pages, invalidMarker };
  },
};

const scenario = scenarios[request.scenario];
assert.ok(scenario, `unknown scenario ${request.scenario}`);
writeResult(await scenario());
