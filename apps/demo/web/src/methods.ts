import { predictorDefinition } from '@migm/core';

/** A method's short name for run labels and messages: its registry label without the parenthesis ("Shortcut"). */
export function methodName(predictor: string): string {
  return predictorDefinition(predictor)?.label.replace(/ \(.*\)$/, '') ?? predictor;
}
