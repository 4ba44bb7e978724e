// What a TypeScript app writes against the types openapi-typescript generates from openapi.yaml.
// It must compile with `tsc --noEmit --strict`; the `@ts-expect-error` lines must stay errors,
// so a spec change that loosens a type (details typed `never` or `any`, a message without
// client_msg_id accepted) fails the build.
import type { components, paths } from "./build/schema";

type Schemas = components["schemas"];
type ApiError = Schemas["Error"];

// Every error response is one ErrorResponse; `details` narrows on `code`.
export function retryDelaySeconds(body: Schemas["ErrorResponse"]): number | null {
  const error: ApiError = body.error;
  switch (error.code) {
    case "rate_limited":
      return error.details.retry_after;
    case "overloaded":
      return error.details.retry_after;
    default:
      return null;
  }
}

export function mustAskToConfirm(error: ApiError): boolean {
  if (error.code !== "sensitive_content") return false;
  const kind: Schemas["SensitiveContentDetails"]["kind"] = error.details.kind;
  return kind === "possible_private_key";
}

export function tokenProblem(error: ApiError): "missing" | "invalid" | "expired" | null {
  return error.code === "unauthorized" ? error.details.reason : null;
}

export function fieldMessages(error: ApiError, path: string): string[] {
  if (error.code !== "validation_error") return [];
  return error.details.fields?.[path] ?? [];
}

// The 422 of sendMessage is typed, and so is its body.
type SendMessage = paths["/sessions/{session_id}/messages"]["post"];
export type Refusal = SendMessage["responses"]["422"]["content"]["application/json"];
const refusal: Refusal = {
  error: { code: "sensitive_content", message: "…", details: { kind: "mnemonic" } },
};
export const refusalKind = mustAskToConfirm(refusal.error);

export const screenshotOnly: SendMessage["requestBody"]["content"]["application/json"] = {
  client_msg_id: "5a4b3c2d-0001",
  attachment_ids: ["att_01a2107d31cd8eb378b561c1fc0b"],
};
export const confirmed: Schemas["MessageCreate"] = {
  client_msg_id: "5a4b3c2d-0002",
  body: "TxID 9f2c…",
  confirm_sensitive: true,
};

// @ts-expect-error a message needs its client_msg_id
export const withoutId: Schemas["MessageCreate"] = { body: "hello" };

export const opening: Schemas["SessionCreate"] = {
  category: "funds",
  message: { body: "出金が届きません", client_msg_id: "first-1" },
  client_context: { app_version: "5.12.0", os: "iOS 18.1", error_code: "E-4012" },
};

export function retryAfterOf(error: ApiError): number {
  // @ts-expect-error retry_after exists only once the code is narrowed
  return error.details.retry_after;
}

// The text transcript is a string, the JSON one a Transcript.
type TextTranscript = paths["/sessions/{session_id}/transcript/text"]["get"]["responses"]["200"]["content"]["text/plain"];
export const text: TextTranscript = "Support chat transcript";
type Signed = paths["/attachments/{attachment_id}"]["get"]["parameters"]["query"];
export const link: Signed = { expires: 1795573869, sig: "3aG5TiYTID0zxd0oDPXCUSarOdX0KA79gOp7g7jupRc" };
