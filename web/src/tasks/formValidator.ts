// The form library's validator, backed by @cfworker/json-schema: it interprets the schema instead of
// compiling it to JavaScript as ajv does (`new Function`), which the app's Content-Security-Policy
// (script-src 'self', no 'unsafe-eval') rightly forbids. Errors come out in rjsf's shape, so
// messages land next to their fields exactly as with rjsf's own ajv validator.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { Validator, type OutputUnit } from "@cfworker/json-schema";
import {
  createErrorHandler,
  getDefaultFormState,
  toErrorList,
  toErrorSchema,
  unwrapErrorHandler,
  validationDataMerge,
  type CustomValidator,
  type ErrorTransformer,
  type RJSFSchema,
  type RJSFValidationError,
  type UiSchema,
  type ValidationData,
  type ValidatorType,
} from "@rjsf/utils";

// Keywords that say what is wrong with one value; the others (properties, allOf, if, then, items…)
// only repeat that a part below them failed.
const LEAF_KEYWORDS = new Set([
  "required", "type", "enum", "const", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
  "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "minProperties",
  "maxProperties", "additionalProperties", "dependentRequired", "oneOf", "anyOf", "not",
]);

function pointer(path: string): string[] {
  return path.replace(/^#\/?/, "").split("/").filter(Boolean)
    .map((part) => decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~"));
}

function at(schema: any, path: string[]): any {
  return path.reduce((node, part) => (node == null ? undefined : node[part]), schema);
}

const cache = new WeakMap<object, Validator>();

function validatorFor(schema: RJSFSchema, rootSchema?: RJSFSchema): Validator {
  const key = schema as object;
  let validator = cache.get(key);
  if (!validator) {
    const withDefinitions = rootSchema && rootSchema !== schema
      ? { ...schema, definitions: (rootSchema as any).definitions, $defs: (rootSchema as any).$defs }
      : schema;
    validator = new Validator(withDefinitions as any, "2019-09", false);
    cache.set(key, validator);
  }
  return validator;
}

function toRjsfErrors(schema: RJSFSchema, units: OutputUnit[]): RJSFValidationError[] {
  const seen = new Set<string>();
  const errors: RJSFValidationError[] = [];
  for (const unit of units) {
    if (!LEAF_KEYWORDS.has(unit.keyword)) continue;
    const instance = pointer(unit.instanceLocation);
    const keywordPath = pointer(unit.keywordLocation);
    const value = at(schema, keywordPath);
    const params: Record<string, unknown> = {};
    let property = instance.length ? "." + instance.join(".") : "";
    if (unit.keyword === "required") {
      const missing = /"([^"]+)"/.exec(unit.error)?.[1];
      if (!missing) continue;
      params.missingProperty = missing;
      property = `${property}.${missing}`;
    } else if (unit.keyword === "type") {
      params.type = Array.isArray(value) ? value.join(", ") : value;
    } else if (unit.keyword === "format") {
      params.format = value;
    } else if (unit.keyword === "additionalProperties") {
      params.additionalProperty = /"([^"]+)"/.exec(unit.error)?.[1];
    } else {
      params.limit = value;
    }
    const id = `${property}|${unit.keyword}`;
    if (seen.has(id)) continue;
    seen.add(id);
    errors.push({ name: unit.keyword, property, message: unit.error, params, stack: `${property} ${unit.error}`.trim(),
      schemaPath: unit.keywordLocation });
  }
  return errors;
}

class InterpretingValidator implements ValidatorType<any, RJSFSchema, any> {
  rawValidation<Result = any>(schema: RJSFSchema, formData?: any): { errors?: Result[]; validationError?: Error } {
    try {
      const result = validatorFor(schema).validate(formData);
      return { errors: result.valid ? undefined : (result.errors as unknown as Result[]) };
    } catch (error) {
      return { validationError: error as Error };
    }
  }

  validateFormData(formData: any, schema: RJSFSchema, customValidate?: CustomValidator<any, RJSFSchema, any>,
    transformErrors?: ErrorTransformer<any, RJSFSchema, any>, uiSchema?: UiSchema<any, RJSFSchema, any>): ValidationData<any> {
    const raw = this.rawValidation<OutputUnit>(schema, formData);
    let errors = toRjsfErrors(schema, raw.errors ?? []);
    if (raw.validationError) errors.push({ stack: raw.validationError.message });
    if (transformErrors) errors = transformErrors(errors, uiSchema);
    const errorSchema = toErrorSchema<any>(errors);
    if (!customValidate) return { errors, errorSchema };
    const full = getDefaultFormState<any, RJSFSchema, any>(this, schema, formData, schema, true);
    const handler = customValidate(full, createErrorHandler<any>(full), uiSchema);
    return validationDataMerge<any>({ errors, errorSchema }, unwrapErrorHandler<any>(handler));
  }

  toErrorList(errorSchema?: any, fieldPath: string[] = []): RJSFValidationError[] {
    return toErrorList(errorSchema, fieldPath);
  }

  isValid(schema: RJSFSchema, formData: any, rootSchema: RJSFSchema): boolean {
    try {
      return validatorFor(schema, rootSchema).validate(formData).valid;
    } catch {
      return false;
    }
  }
}

export const formValidator = new InterpretingValidator();
